"""MNIST-format IDX files: ``read_idx(path)`` and ``write_idx(path, array)``.

The format (LeCun's MNIST page): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
uint32, then the values in row-major order, big-endian. Files ending in ``.gz`` are (de)compressed.
"""
import gzip
import os
import zlib

import numpy as np

import autograd as ag

from ._common import to_numpy

_CODES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODE_OF = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


class IDXError(ValueError):
    """The file is not a well-formed IDX file (bad header, truncated or extra data, corrupt gzip), or it
    declares more data than the reader's limit."""


#: The most bytes of data ``read_idx`` allocates unless told otherwise (MNIST's training images are
#: 47 MB); ``read_idx(path, max_bytes=None)`` lifts the limit for a trusted file.
DEFAULT_MAX_BYTES = 2 ** 30

_MAX_GZIP_RATIO = 1032  # deflate's limit: no gzip file expands more than this
_CHUNK = 1 << 20
_GZIP_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def _open(path, mode):
    path = os.fspath(path)
    return gzip.open(path, mode) if path.endswith(".gz") else open(path, mode)


def read_idx(path, dtype=None, max_bytes=DEFAULT_MAX_BYTES):
    """Read an IDX file (``train-images-idx3-ubyte``, ``...-labels-idx1-ubyte``, optionally ``.gz``) into
    a Tensor of its shape. Integer data become int64 and floats keep their precision unless ``dtype``
    (e.g. ``autograd.float32``) is given; MNIST images are then ``read_idx(p, dtype=ag.float32) / 255``.

    The header is read first and its declared size checked before anything is allocated: against the
    file's size (or what a gzip file could expand to) and against ``max_bytes`` (None: no limit); the
    data is then read in chunks. Every malformed file raises :class:`IDXError` saying what is wrong."""
    path = os.fspath(path)
    with _open(path, "rb") as f:  # a missing or unreadable file raises as itself
        try:
            return _read(f, path, dtype, max_bytes)
        except _GZIP_ERRORS as error:  # a corrupt or truncated gzip stream
            raise IDXError(f"read_idx: {path} is not a readable IDX file ({type(error).__name__}: "
                           f"{error})") from None


def _read(f, path, dtype, max_bytes):
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise IDXError(f"read_idx: {path} is not an IDX file (it must start with two zero bytes)")
    code, ndim = magic[2], magic[3]
    if code not in _CODES:
        raise IDXError(f"read_idx: {path} has unknown data type code 0x{code:02X}")
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXError(f"read_idx: {path} is truncated in its header ({ndim} dimensions declared)")
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    source = _CODES[code]
    count = 1
    for d in shape:
        count *= d
    expected = count * source.itemsize
    header = 4 + 4 * ndim
    on_disk = os.path.getsize(path)
    if path.endswith(".gz"):
        if expected > on_disk * _MAX_GZIP_RATIO + 1024:
            raise IDXError(f"read_idx: {path} declares shape {shape} of {source.name} ({expected} bytes), "
                           f"more than its {on_disk} compressed bytes can hold")
    elif on_disk - header != expected:
        raise IDXError(f"read_idx: {path} holds {on_disk - header} bytes of data, but shape {shape} of "
                       f"{source.name} needs {expected}")
    if max_bytes is not None and expected > max_bytes:
        raise IDXError(f"read_idx: {path} declares shape {shape} of {source.name} ({expected} bytes), over "
                       f"the limit of {max_bytes} bytes; pass max_bytes= (or None) if the file is trusted")
    array = np.empty(shape, source)
    buffer = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < expected:
        n = f.readinto(buffer[filled:filled + _CHUNK])
        if not n:
            break
        filled += n
    extra = f.read(1)
    if filled != expected or extra:
        held = f"{filled}+" if extra else f"{filled}"
        raise IDXError(f"read_idx: {path} holds {held} bytes of data, but shape {shape} of {source.name} "
                       f"needs {expected}")
    if dtype is not None:
        return ag.tensor(array.astype(np.float64 if source.kind == "f" else np.int64)).to(dtype)
    return ag.tensor(array.astype(np.int64 if source.kind in "iu" else source.newbyteorder("=")))


def write_idx(path, array, dtype=None):
    """Write ``array`` (a Tensor or array) as an IDX file; ``dtype`` one of uint8, int8, int16, int32,
    float32, float64 (numpy names; by default the array's own if it is one of these, else an error)."""
    array = to_numpy(array)
    target = np.dtype(dtype) if dtype is not None else array.dtype
    key = target.kind + str(target.itemsize)
    if key not in _CODE_OF:
        raise IDXError(f"write_idx: IDX has no type for {target}; pass dtype= one of uint8, int8, int16, int32, "
                       f"float32, float64")
    if array.ndim > 255:
        raise IDXError("write_idx: at most 255 dimensions")
    header = bytes([0, 0, _CODE_OF[key], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with _open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=target.newbyteorder(">")).tobytes())
