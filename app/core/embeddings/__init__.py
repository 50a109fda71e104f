"""Embeddings of an embedding set: ``embed_job`` (a backbone over every sample), lightly's csv
and npy in and out (``lightly_io``), nearest neighbours (exact and faiss), 2-D maps (PCA, UMAP)
and per-sample scores (duplicates, typicality, uniqueness, outliers)."""
