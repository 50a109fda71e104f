"""PyInstaller runtime hook: a writable numba cache before anything imports numba.

The bundle's own folder may be read-only (``/opt``, ``Program Files``, a signed ``.app``), so
numba, pynndescent and Sieve's UMAP kernels cache their compiled code under the user's cache
folder, as ``app.core.embeddings.maps.numba_cache_dir`` does from source.
"""

import os

from app.core.paths import user_cache_dir

os.environ.setdefault("NUMBA_CACHE_DIR", str(user_cache_dir() / "numba"))
