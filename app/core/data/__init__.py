"""Reading the user's files, read-only: the folder scan, guarded image decode (a memory budget),
video probing and frames, IDX files and torchvision datasets; annotation files (COCO, YOLO,
VOC) in ``annotations``."""
