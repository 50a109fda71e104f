"""Self-supervised training: ``TrainConfig`` (the one definition of a run), batched augmentations,
backbones, heads, losses, methods, the trainer job (checkpoints, resume, torchrun), monitors and
backbone export. Imports torch: the GUI loads it only when the Train tab opens."""
