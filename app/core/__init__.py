"""Sieve's Qt-free core, one package per domain (no Qt, no app.ui, no app.engine: tested).

data (scan, decode, video, label folders) -> ingest (index, thumbnails, demo) -> store (the
project: SQLite, arrays, embedding sets, selections) -> ssl (training) -> embeddings (embed,
neighbours, 2-D maps, scores) -> selection (strategies, select()) -> active (uncertainty, probe,
rounds) -> export (subsets). Loose modules: errors, jobs (progress, cancel), paths, logs, ranges.
"""
