"""The project store: ``Project`` (SQLite schema and migrations, samples, tags, runs, metadata),
atomic ``.npy`` arrays, the thumbnail cache, embedding sets (with their live rows), saved
selections and the samples as numpy columns (``catalog``)."""
