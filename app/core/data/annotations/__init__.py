"""Annotation files in and out of Sieve's objects: readers for COCO json (also results), YOLO txt
folders and Pascal VOC xml (``coco``, ``yolo``, ``voc``) into columns (``parsed``), matched to a
project's samples and stored as one source, whole or not at all (``matching``, ``importing``)."""
