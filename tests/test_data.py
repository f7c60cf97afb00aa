"""nn.data: datasets, loaders, splits, synthetic data, IDX files, the digits and augmentation."""
import gzip

import numpy as np
import pytest

import autograd as ag
from nn.data import (DataLoader, KFold, Subset, TensorDataset, load_digits, make_blobs, make_circles, make_moons,
                     make_regression, make_spirals, polynomial_features, random_split, read_idx, train_test_split,
                     write_idx)
from nn.data import augment
from nn.data.idx import IDXError


def _dataset(n=10):
    X = ag.arange(n * 2, dtype=ag.float32).reshape(n, 2)
    return TensorDataset(X, ag.arange(n))


def _labels_seen(loader):
    return np.concatenate([yb.numpy() for _, yb in loader])


# ---------------------------------------------------------------------------- datasets and loaders
def test_tensor_dataset_rows_and_checks():
    ds = _dataset(5)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(ag.zeros(3, 2), ag.zeros(4))


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_covers_every_sample_once_per_epoch(shuffle):
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=shuffle)
    assert len(loader) == 4
    for _ in range(3):
        batches = list(loader)
        assert [len(yb) for _, yb in batches] == [3, 3, 3, 1]  # the last batch is partial
        assert sorted(_labels_seen(loader).tolist()) == list(range(10))
        for xb, yb in batches:  # inputs stay with their labels
            assert isinstance(xb, ag.Tensor) and xb.shape[1] == 2
            np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())


def test_loader_without_shuffle_keeps_order():
    assert _labels_seen(DataLoader(_dataset(7), batch_size=2)).tolist() == list(range(7))


def test_drop_last():
    loader = DataLoader(_dataset(10), batch_size=3, drop_last=True)
    assert len(loader) == 3
    assert [len(yb) for _, yb in loader] == [3, 3, 3]


def test_shuffle_is_reproducible_with_the_seed_and_differs_between_epochs():
    loader = DataLoader(_dataset(50), batch_size=8, shuffle=True)
    ag.manual_seed(123)
    first, second = _labels_seen(loader), _labels_seen(loader)
    ag.manual_seed(123)
    again = _labels_seen(loader)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(50))


def test_loader_over_a_generic_dataset_and_a_subset():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return ag.tensor([float(i)]), i * i

    xb, yb = next(iter(DataLoader(Squares(), batch_size=5)))
    assert xb.shape == (5, 1) and yb.tolist() == [0, 1, 4, 9, 16]
    sub = Subset(_dataset(10), [9, 2, 4])
    assert _labels_seen(DataLoader(sub, batch_size=2)).tolist() == [9, 2, 4]


def test_loader_transform_applies_to_inputs_only():
    loader = DataLoader(_dataset(4), batch_size=4, transform=lambda x: x * 0)
    xb, yb = next(iter(loader))
    assert xb.numpy().sum() == 0 and yb.tolist() == [0, 1, 2, 3]


def test_random_split_partitions():
    ag.manual_seed(0)
    parts = random_split(_dataset(10), [7, 3])
    indices = parts[0].indices + parts[1].indices
    assert [len(p) for p in parts] == [7, 3] and sorted(indices) == list(range(10))
    assert [len(p) for p in random_split(_dataset(10), [0.5, 0.5])] == [5, 5]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(_dataset(10), [5, 4])


# ---------------------------------------------------------------------------- splits
def test_train_test_split_sizes_alignment_and_seed():
    X = np.arange(40).reshape(20, 2).astype(np.float32)
    y = np.arange(20)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    assert X_tr.shape == (15, 2) and X_te.shape == (5, 2)  # test_size=0.25, rounded up
    assert sorted(y_tr.tolist() + y_te.tolist()) == list(range(20))
    np.testing.assert_array_equal(X_te.numpy()[:, 0], 2 * y_te.numpy())
    again = train_test_split(X, y, random_state=0)
    np.testing.assert_array_equal(again[3].numpy(), y_te.numpy())
    X_tr, X_te = train_test_split(ag.tensor(X), test_size=3, shuffle=False)
    np.testing.assert_array_equal(X_te.numpy(), X[-3:])
    assert len(train_test_split(y, test_size=0.1)[1]) == 2


def test_train_test_split_stratify_keeps_proportions():
    y = np.array([0] * 80 + [1] * 20)
    _, y_te = train_test_split(y, test_size=0.25, stratify=y, random_state=1)
    assert len(y_te) == 25 and int((y_te.numpy() == 1).sum()) == 5


def test_kfold_partitions():
    folds = list(KFold(n_splits=3).split(np.zeros(10)))
    assert [len(test) for _, test in folds] == [4, 3, 3]
    assert np.concatenate([test for _, test in folds]).tolist() == list(range(10))  # unshuffled: in order
    for train, test in folds:
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(10))
        assert not set(train) & set(test)
    shuffled = [test.tolist() for _, test in KFold(3, shuffle=True, random_state=0).split(np.zeros(10))]
    assert shuffled == [test.tolist() for _, test in KFold(3, shuffle=True, random_state=0).split(np.zeros(10))]
    assert sorted(sum(shuffled, [])) == list(range(10)) and shuffled[0] != [0, 1, 2, 3]
    with pytest.raises(ValueError):
        KFold(3, random_state=0)


# ---------------------------------------------------------------------------- synthetic data
@pytest.mark.parametrize("make", [make_moons, make_circles])
def test_two_class_shapes(make):
    X, y = make(101, noise=0.1, random_state=0)
    assert X.shape == (101, 2) and X.dtype == ag.float32 and y.dtype == ag.int64
    assert np.bincount(y.numpy()).tolist() == [50, 51]
    X2, _ = make(101, noise=0.1, random_state=0)
    np.testing.assert_array_equal(X.numpy(), X2.numpy())
    X3, _ = make(101, noise=0.1, random_state=1)
    assert not np.array_equal(X.numpy(), X3.numpy())


def test_noise_free_shapes_lie_on_their_curves():
    X, y = make_circles(40, factor=0.5, shuffle=False)
    radius = np.linalg.norm(X.numpy(), axis=1)
    np.testing.assert_allclose(radius, np.where(y.numpy() == 0, 1.0, 0.5), atol=1e-6)
    X, y = make_moons(40, shuffle=False)
    outer = X.numpy()[y.numpy() == 0]
    np.testing.assert_allclose(np.linalg.norm(outer, axis=1), 1.0, atol=1e-6)


def test_spirals_and_blobs():
    X, y = make_spirals(301, n_classes=4, noise=0.05, random_state=0)
    assert X.shape == (301, 2) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    assert np.abs(X.numpy()).max() < 1.5
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    assert X.shape == (60, 3) and np.bincount(y.numpy()).tolist() == [20, 20, 20]


def test_make_regression_follows_its_coefficients():
    X, y, w = make_regression(50, 8, n_informative=3, bias=2.0, noise=0.0, coef=True, random_state=0,
                              dtype=ag.float64)
    assert X.shape == (50, 8) and y.shape == (50,) and w.shape == (8,)
    assert int((w.numpy() != 0).sum()) == 3
    np.testing.assert_allclose(y.numpy(), X.numpy() @ w.numpy() + 2.0, rtol=1e-10)
    _, y_noisy = make_regression(50, 8, noise=5.0, random_state=0, dtype=ag.float64)
    assert not np.allclose(y_noisy.numpy(), y.numpy())


def test_polynomial_features():
    out = polynomial_features(ag.tensor([[2.0, 3.0]]), degree=2)
    assert out.tolist() == [[2.0, 3.0, 4.0, 6.0, 9.0]]
    out = polynomial_features(ag.tensor([1.0, 2.0]), degree=3, include_bias=True)
    assert out.tolist() == [[1, 1, 1, 1], [1, 2, 4, 8]]
    x = ag.tensor([[2.0]], requires_grad=True)
    polynomial_features(x, 3).sum().backward()  # d/dx (x + x² + x³) = 1 + 2x + 3x²
    assert x.grad.item() == pytest.approx(17.0)


# ---------------------------------------------------------------------------- IDX and digits
@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) * 7 % 200).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / f"images-idx3-ubyte{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back.numpy(), array)
    assert read_idx(path, dtype=ag.float32).dtype == ag.float32


def test_idx_reads_a_hand_written_mnist_label_file(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]))
    assert read_idx(path).tolist() == [7, 2, 1]
    (tmp_path / "bad").write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 5, 1]))
    with pytest.raises(IDXError, match="needs 5"):
        read_idx(tmp_path / "bad")
    (tmp_path / "text").write_bytes(b"hello")
    with pytest.raises(IDXError, match="not an IDX"):
        read_idx(tmp_path / "text")


def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.dtype == ag.float32
    assert X.numpy().min() == 0 and X.numpy().max() == 16
    assert sorted(set(y.tolist())) == list(range(10))
    assert np.bincount(y.numpy()).min() >= 170
    images, _ = load_digits(as_images=True)
    assert images.shape == (1797, 1, 8, 8)
    X3, y3 = load_digits(n_class=3)
    assert set(y3.tolist()) == {0, 1, 2} and X3.shape[0] == len(y3) < 600


# ---------------------------------------------------------------------------- augmentation
TRANSFORMS = [augment.RandomHorizontalFlip(), augment.RandomVerticalFlip(), augment.RandomCrop(8, padding=2),
              augment.RandomTranslation(1), augment.RandomRotation(15), augment.RandomAffine(10, (0.1, 0.1), (0.9, 1.1)),
              augment.ColorJitter(0.3, 0.3, clip=(0, 1)), augment.GaussianNoise(0.1),
              augment.Compose([augment.RandomCrop(8, padding=1), augment.GaussianNoise(0.05)])]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: type(t).__name__)
def test_augmentations_keep_shape_and_repeat_with_the_seed(transform):
    ag.manual_seed(0)
    images = ag.rand(6, 2, 8, 8)
    ag.manual_seed(1)
    out = transform(images)
    assert out.shape == images.shape and out.dtype == images.dtype and not out.requires_grad
    ag.manual_seed(1)
    np.testing.assert_array_equal(transform(images).numpy(), out.numpy())
    assert transform(images[:, 0]).shape == (6, 8, 8)  # (N, H, W) works too


def test_augmentations_do_what_they_say():
    x = ag.arange(16, dtype=ag.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(augment.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(augment.RandomVerticalFlip(p=0.0)(x).numpy(), x.numpy())
    np.testing.assert_allclose(augment.RandomRotation((90, 90))(x).numpy(), np.rot90(x.numpy(), 1, axes=(2, 3)),
                               atol=1e-5)
    np.testing.assert_allclose(augment.RandomRotation(0)(x).numpy(), x.numpy())
    shifted = augment.RandomTranslation(1)(ag.ones(20, 1, 4, 4)).numpy()
    assert shifted.min() == 0 and shifted.max() == 1  # borders filled with zeros somewhere
    assert augment.GaussianNoise(0.0)(x).tolist() == x.tolist()
    with pytest.raises(ValueError, match="reshape"):
        augment.RandomRotation(10)(ag.zeros(4, 64))
