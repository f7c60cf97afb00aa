"""On-the-fly augmentation of image batches: each transform takes a batch Tensor of shape (N, C, H, W)
(or (N, H, W)) and returns a new one of the same shape and dtype, drawing a different random change for
every image from numbagrad's seeded generator (``autograd.manual_seed`` makes it repeat; or pass
``generator=autograd.Generator(seed)``).

    >>> augment = Compose([RandomCrop(8, padding=1), RandomRotation(10), GaussianNoise(0.05)])
    >>> loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True, transform=augment)

Names follow torchvision where it has the transform (``RandomHorizontalFlip, RandomCrop, RandomRotation,
RandomAffine, ColorJitter, Normalize``); these work on whole batches. Augmented batches are data, not part
of the graph: the result never requires grad.
"""
import math
import numbers

import numpy as np

import autograd as ag

from ._common import resolve_rng, to_numpy

__all__ = ["Compose", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "RandomTranslation",
           "RandomAffine", "RandomRotation", "ColorJitter", "GaussianNoise", "Normalize"]


def _as_batch(x, name):
    """(array of shape (N, C, H, W), a function turning the result back into the caller's form)."""
    array = to_numpy(x)
    if array.ndim == 4:
        restore = lambda out: out  # noqa: E731
    elif array.ndim == 3:
        array = array[:, None]
        restore = lambda out: out[:, 0]  # noqa: E731
    else:
        raise ValueError(f"{name}: expected a batch of images of shape (N, C, H, W) or (N, H, W), got shape "
                         f"{tuple(array.shape)} (reshape flat features first, e.g. x.reshape(-1, 1, 8, 8))")
    if array.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating images, got {array.dtype}; convert with .float()")
    dtype = array.dtype
    return array, lambda out: ag.tensor(np.ascontiguousarray(restore(out), dtype=dtype))


def _pair(value, name):
    if isinstance(value, numbers.Number):
        return int(value), int(value)
    if len(value) != 2:
        raise ValueError(f"{name}: expected an int or a pair (height, width), got {value!r}")
    return int(value[0]), int(value[1])


class Transform:
    """Base of the batch transforms: ``generator`` (None: numbagrad's default) drives the randomness."""

    def __init__(self, generator=None):
        self.generator = generator

    @property
    def rng(self):
        return resolve_rng(self.generator)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class RandomHorizontalFlip(Transform):
    """Mirror each image left–right with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        self.p = p

    _axis = 3

    def __call__(self, x):
        array, back = _as_batch(x, type(self).__name__)
        flip = self.rng.random(len(array)) < self.p
        out = array.copy()
        out[flip] = np.flip(array[flip], axis=self._axis)
        return back(out)


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top–bottom with probability ``p``."""

    _axis = 2


class RandomCrop(Transform):
    """Pad each image by ``padding`` pixels (``padding_mode`` 'constant' with ``fill``, 'edge' or
    'reflect'), then cut a ``size`` window at a random place: with ``size`` the image size this shifts
    each image by up to ``padding`` pixels. ``size=None`` keeps the image size."""

    def __init__(self, size=None, padding=0, fill=0.0, padding_mode="constant", generator=None):
        super().__init__(generator)
        if padding_mode not in ("constant", "edge", "reflect"):
            raise ValueError(f"RandomCrop: padding_mode must be 'constant', 'edge' or 'reflect', got {padding_mode!r}")
        self.size = None if size is None else _pair(size, "RandomCrop size")
        self.padding = _pair(padding, "RandomCrop padding")
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, x):
        array, back = _as_batch(x, type(self).__name__)
        n, c, h, w = array.shape
        ph, pw = self.padding
        th, tw = self.size or (h, w)
        widths = ((0, 0), (0, 0), (ph, ph), (pw, pw))
        if self.padding_mode == "constant":
            padded = np.pad(array, widths, constant_values=self.fill)
        else:
            padded = np.pad(array, widths, mode=self.padding_mode)
        if th > h + 2 * ph or tw > w + 2 * pw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the padded image {(h + 2 * ph, w + 2 * pw)}")
        rng = self.rng
        tops = rng.integers(0, h + 2 * ph - th + 1, size=n)
        lefts = rng.integers(0, w + 2 * pw - tw + 1, size=n)
        out = np.empty((n, c, th, tw), dtype=array.dtype)
        for i in range(n):
            out[i] = padded[i, :, tops[i]:tops[i] + th, lefts[i]:lefts[i] + tw]
        return back(out)


class RandomTranslation(RandomCrop):
    """Shift each image by a whole number of pixels, up to ``max_shift`` (an int or (dy, dx)) in each
    direction, filling the uncovered border with ``fill``."""

    def __init__(self, max_shift=1, fill=0.0, generator=None):
        super().__init__(None, padding=max_shift, fill=fill, generator=generator)


def _warp(array, matrices, shifts, fill):
    """Bilinear resampling of each image n at A_n⁻¹(p − c − t_n) + c for every output pixel p (the
    affine map x ↦ A_n(x − c) + c + t_n about the image centre c); outside the image reads ``fill``."""
    n, c, h, w = array.shape
    centre = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1).reshape(-1, 2)
    inverse = np.linalg.inv(matrices)                                       # (N, 2, 2)
    rel = grid[None] - centre - shifts[:, None, :]                           # (N, HW, 2)
    src = np.einsum("nij,npj->npi", inverse, rel) + centre                   # (N, HW, 2): (row, col)
    rows, cols = src[..., 0], src[..., 1]
    r0, c0 = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    batch = np.arange(n)[:, None]
    out = np.zeros((n, h * w, c), dtype=np.float64)
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        values = array[batch, :, np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]  # (N, HW, C)
        values = np.where(inside[..., None], values, fill)
        out += weight[..., None] * values
    return out.transpose(0, 2, 1).reshape(n, c, h, w)


class RandomAffine(Transform):
    """A random rotation by up to ± ``degrees``, a shift by up to ``translate`` = (fy, fx) of the image
    size, and a zoom by a factor in ``scale`` = (lo, hi), about the image centre, with bilinear
    interpolation; the uncovered area reads ``fill``."""

    def __init__(self, degrees=0.0, translate=None, scale=None, fill=0.0, generator=None):
        super().__init__(generator)
        self.degrees = (-float(degrees), float(degrees)) if isinstance(degrees, numbers.Number) else tuple(degrees)
        self.translate = translate
        self.scale = scale
        self.fill = fill

    def __call__(self, x):
        array, back = _as_batch(x, type(self).__name__)
        n, _, h, w = array.shape
        rng = self.rng
        angles = np.deg2rad(rng.uniform(self.degrees[0], self.degrees[1], size=n))
        zoom = rng.uniform(self.scale[0], self.scale[1], size=n) if self.scale else np.ones(n)
        cos, sin = np.cos(angles) * zoom, np.sin(angles) * zoom
        matrices = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)  # acts on (row, col)
        shifts = np.zeros((n, 2))
        if self.translate:
            limits = np.array([self.translate[0] * h, self.translate[1] * w])
            shifts = rng.uniform(-1, 1, size=(n, 2)) * limits
        return back(_warp(array.astype(np.float64), matrices, shifts, self.fill))


class RandomRotation(RandomAffine):
    """Rotate each image by a random angle in [−degrees, degrees] (or in the pair given) about its
    centre, bilinear, filling the corners with ``fill``."""

    def __init__(self, degrees, fill=0.0, generator=None):
        super().__init__(degrees=degrees, fill=fill, generator=generator)


class ColorJitter(Transform):
    """Random brightness and contrast per image: multiply by a factor in [1 − brightness, 1 + brightness],
    and scale the distance to the image's mean by a factor in [1 − contrast, 1 + contrast]; ``clip``
    (lo, hi) bounds the result (None: no bound)."""

    def __init__(self, brightness=0.0, contrast=0.0, clip=None, generator=None):
        super().__init__(generator)
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if not 0 <= value:
                raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
        self.brightness, self.contrast, self.clip = float(brightness), float(contrast), clip

    def __call__(self, x):
        array, back = _as_batch(x, type(self).__name__)
        n = len(array)
        rng = self.rng
        out = array.astype(np.float64)
        if self.brightness:
            out = out * rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness, size=(n, 1, 1, 1))
        if self.contrast:
            mean = out.mean(axis=(1, 2, 3), keepdims=True)
            out = (out - mean) * rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast, size=(n, 1, 1, 1)) + mean
        if self.clip is not None:
            out = np.clip(out, self.clip[0], self.clip[1])
        return back(out)


class GaussianNoise(Transform):
    """Add Gaussian noise of standard deviation ``std`` (and mean ``mean``) to every pixel; ``clip``
    (lo, hi) bounds the result. Works on any shape of batch."""

    def __init__(self, std=0.1, mean=0.0, clip=None, generator=None):
        super().__init__(generator)
        self.std, self.mean, self.clip = float(std), float(mean), clip

    def __call__(self, x):
        array = to_numpy(x)
        if array.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: expected floating data, got {array.dtype}")
        out = array + self.rng.normal(self.mean, self.std, size=array.shape)
        if self.clip is not None:
            out = np.clip(out, self.clip[0], self.clip[1])
        return ag.tensor(out.astype(array.dtype))


class Normalize(Transform):
    """``(x − mean) / std`` per channel (sequences of C values) or overall (numbers); not random."""

    def __init__(self, mean, std):
        super().__init__(None)
        self.mean, self.std = mean, std

    def __call__(self, x):
        array, back = _as_batch(x, "Normalize")
        mean = np.asarray(self.mean, dtype=np.float64).reshape(1, -1, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(1, -1, 1, 1)
        if np.any(std == 0):
            raise ValueError("Normalize: std must be non-zero")
        return back((array - mean) / std)
