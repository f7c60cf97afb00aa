"""MNIST-format IDX files: ``read_idx(path)`` and ``write_idx(path, array)``.

The format (LeCun's MNIST page): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
uint32, then the values in row-major order, big-endian. Files ending in ``.gz`` are (de)compressed.
"""
import gzip
import os

import numpy as np

import autograd as ag

from ._common import to_numpy

_CODES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODE_OF = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


class IDXError(ValueError):
    """The file is not a well-formed IDX file."""


def _open(path, mode):
    path = os.fspath(path)
    return gzip.open(path, mode) if path.endswith(".gz") else open(path, mode)


def read_idx(path, dtype=None):
    """Read an IDX file (``train-images-idx3-ubyte``, ``...-labels-idx1-ubyte``, optionally ``.gz``) into
    a Tensor of its shape. Integer data become int64 and floats keep their precision unless ``dtype``
    (e.g. ``autograd.float32``) is given; MNIST images are then ``read_idx(p, dtype=ag.float32) / 255``."""
    with _open(path, "rb") as f:
        content = f.read()
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise IDXError(f"read_idx: {path} is not an IDX file (it must start with two zero bytes)")
    code, ndim = content[2], content[3]
    if code not in _CODES:
        raise IDXError(f"read_idx: {path} has unknown data type code 0x{code:02X}")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise IDXError(f"read_idx: {path} is truncated in its header")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    source = _CODES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * source.itemsize
    if len(content) - header != expected:
        raise IDXError(f"read_idx: {path} holds {len(content) - header} bytes of data, but shape {shape} of "
                       f"{source.name} needs {expected}")
    array = np.frombuffer(content, source, offset=header).reshape(shape)
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
