"""Detection evaluation: ground truth against predictions (per-image TP/FP/FN, COCO mAP per
class, a confusion matrix with a background row and column, a per-image error score)."""
