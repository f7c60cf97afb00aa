"""numbagrad's data tools, as ``torch.utils.data`` and scikit-learn's: datasets and loaders, splits,
offline datasets (synthetic ones, the 8×8 handwritten digits, an MNIST-format IDX reader) and
augmentation of image batches (``nn.data.augment``).

    >>> X, y = load_digits()
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.2, random_state=0)
    >>> loader = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)
    >>> for xb, yb in loader: ...

Randomness (shuffling, splits with ``random_state=None``, synthetic data, augmentation) comes from
numbagrad's seeded generator, so ``autograd.manual_seed(n)`` makes a run repeat. (Data code may use numpy:
see DEVELOPERS.md.)
"""
from . import augment  # noqa: F401
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split  # noqa: F401
from .digits import load_digits  # noqa: F401
from .idx import IDXError, read_idx, write_idx  # noqa: F401
from .loader import DataLoader, default_collate  # noqa: F401
from .splits import KFold, train_test_split  # noqa: F401
from .text import CharVocab, WordVocab, load_sonnets, next_token_windows, sample_next  # noqa: F401
from .synthetic import (make_blobs, make_circles, make_moons, make_regression, make_spirals,  # noqa: F401
                        polynomial_features)
