"""Active learning: uncertainty scores from predictions (lightly's names), prediction files, a
linear probe on embeddings, label sources, and rounds that pick what to label next."""
