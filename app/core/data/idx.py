"""Reader for the IDX format used by MNIST-style datasets (plain or gzip-compressed)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from app.core.errors import SieveError

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """Return the file's bytes, decompressed when it is gzip data."""
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            return gzip.decompress(raw)
        return raw
    except FileNotFoundError as exc:
        raise SieveError(f"IDX file not found: {path}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise SieveError(f"cannot read IDX file {path}: {exc}") from exc


def _parse_header(data: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate the magic number; return (dtype, shape, offset of the first value)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise SieveError(f"not an IDX file (bad magic number {data[:4].hex() or 'none'}): {path}")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise SieveError(f"truncated IDX header ({ndim} dimensions expected): {path}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return dtype, shape, offset


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into an array in native byte order."""
    path = Path(path)
    data = _read_bytes(path)
    dtype, shape, offset = _parse_header(data, path)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - offset != expected:
        raise SieveError(
            f"IDX file {path} holds {len(data) - offset} data bytes, its header {shape} "
            f"promises {expected}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
