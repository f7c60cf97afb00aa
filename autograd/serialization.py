"""Tensors to and from ``.npz`` files, never unpickling: a file from a stranger cannot run code, nor
make the process allocate more than a stated limit.

The archive is numpy's ``.npz`` (a zip of ``.npy`` arrays, one member ``<key>.npy`` per key), written
with ``allow_pickle=False``. Reading trusts nothing in the file:

- every member must be a plain ``.npy`` array of numbagrad's dtypes (float32, float64, int64, bool);
  any other member (a pickle, a text file, a nested zip: any ``torch.save`` file) and any duplicate
  member name raise :class:`SerializationError`;
- an array's size comes from its header, and is checked before anything is allocated: against the
  size the zip declares for the member, against what the member's compressed bytes could expand to
  (deflate expands at most about 1032 times), and against ``max_bytes`` (all arrays together;
  :data:`DEFAULT_MAX_BYTES`, 1 GiB, unless the caller passes another limit, or None for none);
- arrays are read in chunks straight into their own memory, so a load peaks at the tensors' size.

Keys come back exactly as saved: ``save_tensors`` refuses a key that the zip format would change
(a NUL character, which zip names cannot hold, or text that is not valid Unicode).
"""
import os
import zipfile
import zlib

import numpy as np

from . import dtypes
from .tensor import Tensor, make_tensor

#: The most bytes of tensor data ``load_tensors`` allocates for one file unless told otherwise.
DEFAULT_MAX_BYTES = 2 ** 30

_SUFFIX = ".npy"
_MAX_DEFLATE_RATIO = 1032  # deflate's limit: 258 bytes out of each 2 bits at best, plus slack
_CHUNK = 1 << 20  # bytes per read: zipfile reads each chunk into a bytes object first
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                RuntimeError, KeyError, UnicodeDecodeError, OverflowError)


class SerializationError(ValueError):
    """The file is not a numbagrad tensor archive (corrupt, wrong format, unsafe, or over the limit)."""


def save_tensors(tensors, path):
    """Write a dict of name -> Tensor (or array) to ``path`` as an uncompressed ``.npz`` archive.

    The file is written under exactly ``path`` (no suffix is appended). Keys must be non-empty
    strings that a zip member name keeps exactly (no NUL character, valid Unicode)."""
    if not hasattr(tensors, "items"):
        raise TypeError(f"save: expected a dict of name -> Tensor, got {type(tensors).__name__}")
    arrays = {}
    for key, value in tensors.items():
        _check_key(key)
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype not in dtypes.SUPPORTED:
            raise TypeError(f"save: value for {key!r} has dtype {array.dtype}; numbagrad saves float32, "
                            f"float64, int64 and bool")
        arrays[key] = array
    path = os.fspath(path)
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(key + _SUFFIX, mode="w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)


def _check_key(key):
    if not isinstance(key, str) or not key:
        raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
    if "\0" in key:
        raise ValueError(f"save: key {key!r} holds a NUL character, which a zip member name cannot keep "
                         f"(it would load as {key.split(chr(0))[0]!r})")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"save: key {key!r} is not valid Unicode text (a lone surrogate), which a zip "
                         f"member name cannot keep") from None


def load_tensors(path, max_bytes=DEFAULT_MAX_BYTES):
    """Read an archive written by ``save_tensors``: a dict of name -> Tensor, in the saved order.

    Raises ``SerializationError`` naming the file (and the entry) when it is not a readable ``.npz``
    of plain arrays of numbagrad's dtypes, or when its arrays hold more than ``max_bytes`` bytes
    together (``None``: no limit). Pickled data is refused, never loaded."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    try:
        archive = zipfile.ZipFile(path, mode="r")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        if _is_npy(path):
            raise SerializationError(f"load: {path!r} holds a single .npy array, not a .npz archive of "
                                     f"named tensors (save with nn.save(state_dict, path))") from None
        raise SerializationError(f"load: {path!r} is not a numbagrad .npz archive ({error})") from None
    with archive:
        members = _members(archive, path)
        budget = [np.inf if max_bytes is None else max_bytes]
        out = {}
        for key, info in members:
            try:
                array = _read_member(archive, info, budget)
            except SerializationError as error:
                raise SerializationError(f"load: entry {key!r} of {path!r} {error}") from None
            except _READ_ERRORS as error:
                raise SerializationError(f"load: entry {key!r} of {path!r} is corrupt or unsafe "
                                         f"({type(error).__name__}: {error})") from None
            out[key] = make_tensor(array)
    return out


def _is_npy(path):
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def _members(archive, path):
    """(key, ZipInfo) for every member, refusing anything but uniquely named ``.npy`` files."""
    members, seen = [], set()
    for info in archive.infolist():
        name = info.filename
        if info.is_dir() or not name.endswith(_SUFFIX) or name == _SUFFIX:
            raise SerializationError(f"load: {path!r} holds {name!r}, which is not a .npy array: not a "
                                     f"numbagrad .npz archive (a torch.save file or another zip?)")
        if name in seen:
            raise SerializationError(f"load: {path!r} holds the entry {name!r} twice (a crafted or "
                                     f"corrupt archive)")
        seen.add(name)
        members.append((name[:-len(_SUFFIX)], info))
    return members


def _read_member(archive, info, budget):
    """One member's array: header checked, size checked against the zip and the budget, then read in
    chunks into the array's own memory."""
    if info.compress_type == zipfile.ZIP_STORED:
        plausible = info.compress_size >= info.file_size
    else:
        plausible = info.file_size <= info.compress_size * _MAX_DEFLATE_RATIO + 1024
    if not plausible:
        raise SerializationError(f"declares {info.file_size} bytes from {info.compress_size} stored "
                                 f"bytes, more than its compression can expand to")
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise SerializationError(f"has .npy format version {version}, which numbagrad does not read")
        native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
        if dtype.hasobject or native not in dtypes.SUPPORTED:
            raise SerializationError(f"has dtype {dtype}; numbagrad loads float32, float64, int64 and bool "
                                     f"(pickled objects are never loaded)")
        header_size = f.tell()
        count = 1
        for s in shape:
            count *= s
        nbytes = count * dtype.itemsize
        if header_size + nbytes != info.file_size:
            raise SerializationError(f"declares shape {shape} of {dtype} ({nbytes} bytes) but the archive "
                                     f"holds {info.file_size - header_size} bytes for it")
        if nbytes > budget[0]:
            raise SerializationError(f"holds {nbytes} bytes ({shape} of {dtype}), over the load limit "
                                     f"(max_bytes); pass a larger max_bytes to load_tensors/nn.load if "
                                     f"the file is trusted")
        budget[0] -= nbytes
        array = np.empty(shape[::-1] if fortran_order else shape, dtype)
        _read_into(f, array.reshape(-1).view(np.uint8) if nbytes else None)
        if f.read(1):
            raise SerializationError("holds more bytes than its header declares")
    if fortran_order:
        array = array.T
    if not array.flags.c_contiguous or array.dtype != native:
        array = np.ascontiguousarray(array, dtype=native)
    return array


def _read_into(f, buffer):
    if buffer is None:
        return
    view = memoryview(buffer)
    filled = 0
    while filled < len(view):
        n = f.readinto(view[filled:filled + _CHUNK])
        if not n:
            raise SerializationError(f"is truncated: {filled} of {len(view)} bytes")
        filled += n
