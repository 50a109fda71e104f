"""Self-supervised learning: losses and distributed helpers."""
