"""Files from strangers (issue 22): ``nn.load`` and ``read_idx`` check every declared size against the
file and a limit before allocating, read in chunks, raise one error type for every malformed input,
and ``nn.save`` keys come back exactly (or are refused at save)."""
import gzip
import io
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
import nn
from autograd.serialization import DEFAULT_MAX_BYTES
from nn.data import IDXError, read_idx, write_idx

MiB = 2 ** 20


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    except (nn.SerializationError, IDXError):
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _deflated_zeros(prefix, zero_mib, wbits=-15):
    """A deflate stream of ``prefix`` then ``zero_mib`` MiB of zeros, built without compressing them:
    one fully flushed MiB of zeros is a self-contained run of blocks, repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * zero_mib + c.flush()


def _npy_header(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _zip_with_raw_member(path, name, raw, file_size, method=zipfile.ZIP_DEFLATED, crc=0):
    """A one-member zip whose member holds ``raw`` (already compressed) and declares ``file_size``."""
    name_b = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(raw), file_size,
                        len(name_b), 0) + name_b
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(raw),
                          file_size, len(name_b), 0, 0, 0, 0, 0, 0) + name_b
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(raw), 0)
    path.write_bytes(local + raw + central + end)


# ---------------------------------------------------------------------------- nn.load: sizes
def test_load_refuses_a_small_archive_declaring_gigabytes_before_allocating(tmp_path):
    """The issue's decompression bomb: a 2 MiB .npz whose member really holds 1.5 GiB of zeros."""
    header = _npy_header((3 * 2 ** 26,))  # 1.5 GiB of float64
    raw = _deflated_zeros(header, 1536)
    path = tmp_path / "bomb.npz"
    _zip_with_raw_member(path, "w.npy", raw, len(header) + 3 * 2 ** 29)
    assert path.stat().st_size < 3 * MiB and DEFAULT_MAX_BYTES < 3 * 2 ** 29
    with pytest.raises(nn.SerializationError, match=r"entry 'w' .*over the load limit"):
        nn.load(path)
    assert _peak_bytes(lambda: nn.load(path)) < 8 * MiB


def test_load_limit_is_overridable(tmp_path):
    path = tmp_path / "m.npz"
    nn.save({"a": ag.zeros(1000), "b": ag.zeros(1000)}, path)  # 4000 bytes each
    with pytest.raises(nn.SerializationError, match="'b'.*over the load limit"):
        nn.load(path, max_bytes=6000)  # the limit holds for all arrays together
    assert set(nn.load(path, max_bytes=8000)) == {"a", "b"}
    assert set(nn.load(path, max_bytes=None)) == {"a", "b"}


def test_load_refuses_a_member_declaring_more_than_deflate_can_expand_to(tmp_path):
    header = _npy_header((125_000,))
    path = tmp_path / "ratio.npz"
    _zip_with_raw_member(path, "w.npy", zlib.compress(header)[2:-4], len(header) + 1_000_000)
    with pytest.raises(nn.SerializationError, match="more than its compression can expand to"):
        nn.load(path)


def test_load_refuses_a_header_that_disagrees_with_the_member_size(tmp_path):
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", _npy_header((1000,)) + bytes(80))  # 10 of the 1000 values
    with pytest.raises(nn.SerializationError, match=r"declares shape \(1000,\)"):
        nn.load(path)


def test_load_reads_in_place_peaking_at_the_tensor_size(tmp_path):
    path = tmp_path / "big.npz"
    nn.save({"w": ag.tensor(np.arange(2 * MiB, dtype=np.float64))}, path)  # 16 MiB
    peak = _peak_bytes(lambda: nn.load(path))
    assert peak < 16 * MiB + 4 * MiB  # the tensor and one chunk in flight
    np.testing.assert_array_equal(nn.load(path)["w"].numpy(), np.arange(2 * MiB, dtype=np.float64))


# ---------------------------------------------------------------------------- nn.load: foreign members
def _zip(path, members):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members:
                z.writestr(name, data)


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("members, message", [
    ([("notes.txt", b"hello")], r"'notes.txt', which is not a .npy array"),
    ([("inner.zip", b"PK\x05\x06" + bytes(18))], "not a .npy array"),
    ([("archive/data.pkl", b"\x80\x02}q\x00."), ("archive/version", b"3")], "torch.save"),
    ([("w.npy", _npy_bytes(np.ones(2))), ("w.npy", _npy_bytes(np.zeros(2)))], r"holds the entry 'w.npy' twice"),
    ([("w.npy", b"not an array at all")], r"entry 'w' .*corrupt or unsafe"),
    ([("w.npy", _npy_bytes(np.ones(2, dtype=np.complex64)))], "has dtype complex64"),
    ([("w.npy", _npy_bytes(np.zeros(2, dtype=[("a", "<f4")])))], "has dtype"),
    ([("w.npy", _npy_bytes(np.ones(3))[:-8])], "declares shape"),
    ([(".npy", _npy_bytes(np.ones(1)))], "not a .npy array"),
])
def test_load_raises_serialization_error_for_every_foreign_archive(tmp_path, members, message):
    path = tmp_path / "foreign.npz"
    _zip(path, members)
    with pytest.raises(nn.SerializationError, match=message):
        nn.load(path)


def test_load_refuses_a_torch_save_file(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(nn.SerializationError, match="not a .npy array"):
        nn.load(path)


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"PK\x03\x04" + bytes(40)])
def test_load_of_a_non_archive_raises_serialization_error(tmp_path, content):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(nn.SerializationError, match="x.npz"):
        nn.load(path)


def test_load_accepts_numpy_archives_in_fortran_order_and_big_endian(tmp_path):
    path = tmp_path / "np.npz"
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.savez(path, f=f, big=np.arange(4, dtype=">i8"), scalar=np.float32(2.5), empty=np.zeros((0, 3)))
    loaded = nn.load(path)
    np.testing.assert_array_equal(loaded["f"].numpy(), f)
    assert loaded["big"].dtype == ag.int64 and loaded["big"].tolist() == [0, 1, 2, 3]
    assert loaded["scalar"].shape == () and loaded["scalar"].item() == 2.5
    assert loaded["empty"].shape == (0, 3)
    compressed = tmp_path / "c.npz"
    np.savez_compressed(compressed, w=np.arange(10.0))
    np.testing.assert_array_equal(nn.load(compressed)["w"].numpy(), np.arange(10.0))


# ---------------------------------------------------------------------------- keys round-trip exactly
def test_keys_that_numpy_would_confuse_come_back_exactly(tmp_path):
    path = tmp_path / "keys.npz"
    state = {"w": ag.tensor([1.0]), "w.npy": ag.tensor([2.0]), "a/b": ag.tensor([3.0]), "é ü": ag.tensor([4.0])}
    nn.save(state, path)
    loaded = nn.load(path)
    assert list(loaded) == list(state)
    for key in state:
        assert loaded[key].tolist() == state[key].tolist()


@pytest.mark.parametrize("key", ["a\0b", "\0", "x\ud800"])
def test_save_refuses_keys_a_zip_cannot_keep(tmp_path, key):
    with pytest.raises(ValueError, match="key"):
        nn.save({"a": ag.tensor([1.0]), key: ag.tensor([2.0])}, tmp_path / "k.npz")


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1,
                             max_size=12), min_size=1, max_size=4, unique=True))
def test_any_saveable_key_round_trips(tmp_path_factory, keys):
    path = tmp_path_factory.mktemp("keys") / "k.npz"
    nn.save({k: ag.tensor([float(i)]) for i, k in enumerate(keys)}, path)
    loaded = nn.load(path)
    assert list(loaded) == keys
    assert [loaded[k].item() for k in keys] == [float(i) for i in range(len(keys))]


# ---------------------------------------------------------------------------- read_idx
def _idx_header(code, shape):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def test_read_idx_refuses_a_small_gzip_declaring_gigabytes_before_allocating(tmp_path):
    """The issue's bomb: a 2 MiB .gz that really holds 1.5 GiB of zeros."""
    header = _idx_header(0x08, (3 * 2 ** 29,))
    raw = _deflated_zeros(header, 1536)
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw + struct.pack("<II", 0, 0))
    assert path.stat().st_size < 3 * MiB
    with pytest.raises(IDXError, match="over the limit"):
        read_idx(path)
    assert _peak_bytes(lambda: read_idx(path)) < 8 * MiB


def test_read_idx_refuses_a_gzip_declaring_more_than_it_can_expand_to(tmp_path):
    path = tmp_path / "tiny.gz"
    path.write_bytes(gzip.compress(_idx_header(0x08, (3 * 2 ** 30,)) + bytes(10)))
    with pytest.raises(IDXError, match="more than its .* compressed bytes can hold"):
        read_idx(path, max_bytes=None)


def test_read_idx_limit_is_overridable(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    write_idx(path, np.arange(100, dtype=np.uint8))
    with pytest.raises(IDXError, match="over the limit of 50 bytes"):
        read_idx(path, max_bytes=50)
    assert read_idx(path, max_bytes=100).tolist() == list(range(100))


@pytest.mark.parametrize("name, content, message", [
    ("huge-dims", _idx_header(0x08, (2 ** 32 - 1,) * 3) + bytes(8), "needs"),
    ("truncated-header", _idx_header(0x08, (3, 4))[:9], "truncated in its header"),
    ("code", _idx_header(0x07, (3,)) + bytes(3), "unknown data type code 0x07"),
    ("magic", b"\x01\x00\x08\x01" + bytes(8), "not an IDX file"),
    ("empty", b"", "not an IDX file"),
    ("extra", _idx_header(0x08, (3,)) + bytes(4), "holds 4 bytes of data"),
    ("bad.gz", b"\x1f\x8b\x08garbage" * 4, "not a readable IDX file"),
    ("notgzip.gz", b"plain text", "not a readable IDX file"),
    ("truncated.gz", gzip.compress(_idx_header(0x0D, (100,)) + bytes(400))[:-30], "IDX"),
    ("short.gz", gzip.compress(_idx_header(0x0D, (100,)) + bytes(396)), "holds 396 bytes of data"),
    ("long.gz", gzip.compress(_idx_header(0x08, (3,)) + bytes(5)), r"holds 3\+ bytes of data"),
])
def test_read_idx_raises_idx_error_for_every_malformed_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IDXError, match=message):
        read_idx(path)


def test_read_idx_round_trips_plain_and_gzip(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for name in ("x-idx3", "x-idx3.gz"):
        write_idx(tmp_path / name, data)
        back = read_idx(tmp_path / name)
        assert back.dtype == ag.float32 and back.shape == (2, 3, 4)
        np.testing.assert_array_equal(back.numpy(), data)
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")
