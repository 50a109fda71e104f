"""Sieve's Qt-free core: data, store, self-supervised learning, embeddings, maps and selection."""
