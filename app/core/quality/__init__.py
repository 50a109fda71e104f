"""Data-quality checks: image statistics measured while indexing (brightness, contrast, colour,
sharpness, entropy, content and perceptual hashes), the checks that read them (dark, light,
blurry, low information, grayscale, odd aspect ratio or size, exact and near duplicates), and
the ones that read embeddings (outliers, label errors), with thresholds relative to the dataset."""
