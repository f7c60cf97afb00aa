"""Tensors to and from ``.npz`` files, never unpickling: a file from a stranger cannot run code.

The archive is numpy's ``.npz`` (a zip of ``.npy`` arrays, one per key), written and read with
``allow_pickle=False``; only numbagrad's dtypes (float32, float64, int64, bool) are accepted back.
``nn.save``/``nn.load`` are these functions applied to a state dict.
"""
import os
import zipfile

import numpy as np

from . import dtypes
from .tensor import Tensor, make_tensor


class SerializationError(ValueError):
    """The file is not a numbagrad tensor archive (corrupt, wrong format, or holding unsafe data)."""


def save_tensors(tensors, path):
    """Write a dict of name -> Tensor (or array) to ``path`` as an uncompressed ``.npz`` archive.

    The file is written under exactly ``path`` (no suffix is appended)."""
    if not hasattr(tensors, "items"):
        raise TypeError(f"save: expected a dict of name -> Tensor, got {type(tensors).__name__}")
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype not in dtypes.SUPPORTED:
            raise TypeError(f"save: value for {key!r} has dtype {array.dtype}; numbagrad saves float32, "
                            f"float64, int64 and bool")
        arrays[key] = array
    path = os.fspath(path)
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", mode="w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)


def load_tensors(path):
    """Read an archive written by ``save_tensors``: a dict of name -> Tensor, in the saved order.

    Raises ``SerializationError`` naming the file when it is not a readable ``.npz`` of plain arrays
    (pickled data is refused, never loaded)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise SerializationError(f"load: {path!r} is not a numbagrad .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SerializationError(f"load: {path!r} holds a single .npy array, not a .npz archive of named "
                                 f"tensors (save with nn.save(state_dict, path))")
    out = {}
    with archive:
        for key in archive.files:
            try:
                array = archive[key]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
                raise SerializationError(f"load: entry {key!r} of {path!r} is corrupt or unsafe "
                                         f"({error})") from None
            if array.dtype not in dtypes.SUPPORTED:
                raise SerializationError(f"load: entry {key!r} of {path!r} has dtype {array.dtype}; "
                                         f"numbagrad loads float32, float64, int64 and bool")
            out[key] = make_tensor(array if array.flags.c_contiguous else array.copy(order="C"), False, None, None)
    return out
