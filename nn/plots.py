"""Figures for training: loss/metric curves, gradient flow per layer, decision boundaries.

matplotlib is optional (``pip install 'numbagrad[plot]'``) and imported only when a figure is drawn. With
no display (a server, CI), the non-interactive Agg backend is used, so figures can always be saved. Each
function returns the matplotlib ``Figure``; ``path=`` saves it too (the format from the extension).
In a notebook, end the line with ``;`` (or assign the result) to show the figure once.
(Plotting code may use numpy: see DEVELOPERS.md.)
"""
import os
import sys

import numpy as np

import autograd as ag

__all__ = ["pyplot", "plot_history", "plot_gradient_flow", "plot_gradient_norms", "plot_decision_boundary",
           "optimizer_path", "plot_optimizer_paths"]

_INSTALL = ("plotting needs matplotlib, which is not installed: pip install 'numbagrad[plot]' "
            "(or pip install matplotlib)")


def _headless():
    if os.environ.get("MPLBACKEND"):
        return False  # the user (or Jupyter) chose a backend
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


def pyplot():
    """``matplotlib.pyplot``, imported on first use (Agg backend when there is no display)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(_INSTALL) from None
    if "matplotlib.pyplot" not in sys.modules and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig


def plot_history(history, keys=None, path=None, figsize=None, title=None):
    """Curves of a training history (a ``History`` or its ``.history`` dict), one panel per quantity:
    the loss with ``val_loss``, then each metric with its ``val_`` twin. ``keys`` picks the quantities
    (e.g. ``["loss"]``); the learning rate is left out unless asked for with ``keys=[..., "lr"]``."""
    plt = pyplot()
    data = getattr(history, "history", history)
    if not data:
        raise ValueError("plot_history: the history is empty (train for at least one epoch)")
    bases = []
    for key in data:
        base = key[4:] if key.startswith("val_") else key
        if base not in bases and (keys is not None or base != "lr"):
            bases.append(base)
    if keys is not None:
        missing = [k for k in keys if k not in bases]
        if missing:
            raise KeyError(f"plot_history: no {missing} in the history; it has {list(data)}")
        bases = list(keys)
    fig, axes = plt.subplots(1, len(bases), figsize=figsize or (4.8 * len(bases), 3.6), squeeze=False)
    for ax, base in zip(axes[0], bases):
        for key, label, style in ((base, "train", "-"), ("val_" + base, "validation", "--")):
            if key in data and len(data[key]):
                epochs = np.arange(1, len(data[key]) + 1)
                ax.plot(epochs, data[key], style, marker="o" if len(epochs) <= 30 else None, markersize=3,
                        label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        ax.set_title(base)
        if base == "lr":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def _layer_names(names):
    return [n[:-len(".weight")] if n.endswith(".weight") else n for n in names]


def plot_gradient_norms(norms, steps=None, path=None, figsize=(11, 4), title="Gradient flow", ylabel="‖∂L/∂W‖",
                        labels=None):
    """Two panels from per-layer gradient sizes recorded over training (``{name: [value per step]}``, as
    ``nn.training.GradientFlow`` records): each layer's curve over the steps (log scale), and the average
    per layer from input to output (the bar chart that shows vanishing gradients: the first layers' bars
    far below the last ones'). ``labels``: optional ``{name: text}`` for the legend and the axis."""
    plt = pyplot()
    if not norms or not any(len(v) for v in norms.values()):
        raise ValueError("plot_gradient_norms: nothing recorded (was the callback passed to fit?)")
    names = list(norms)
    labels = [(labels or {}).get(n, _layer_names([n])[0]) for n in names]
    fig, (ax_lines, ax_bars) = plt.subplots(1, 2, figsize=figsize)
    cmap = plt.get_cmap("viridis")
    for i, name in enumerate(names):
        values = np.asarray(norms[name], dtype=np.float64)
        x = np.asarray(steps) if steps is not None and len(steps) == len(values) else np.arange(len(values))
        ax_lines.plot(x, values, color=cmap(i / max(1, len(names) - 1)), label=labels[i], lw=1.2)
    ax_lines.set_yscale("log")
    ax_lines.set_xlabel("training step")
    ax_lines.set_ylabel(ylabel)
    ax_lines.set_title("per layer, over training")
    ax_lines.grid(alpha=0.3)
    ax_lines.legend(fontsize=8, title="layer (input → output)" if len(names) > 1 else None, title_fontsize=8)
    means = [float(np.mean(norms[n])) if len(norms[n]) else np.nan for n in names]
    ax_bars.bar(range(len(names)), means, color=[cmap(i / max(1, len(names) - 1)) for i in range(len(names))])
    ax_bars.set_yscale("log")
    ax_bars.set_xticks(range(len(names)))
    ax_bars.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax_bars.set_ylabel("average " + ylabel)
    ax_bars.set_title("average per layer (input → output)")
    ax_bars.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_gradient_flow(model, path=None, figsize=(7, 4), include_bias=False, title="Gradient flow (last backward)"):
    """The classic snapshot: for each weight of ``model`` (a Module or ``named_parameters()``), the mean
    and the max of |∂L/∂W| after the last ``backward()``, from input to output, on a log scale."""
    plt = pyplot()
    named = model.named_parameters() if hasattr(model, "named_parameters") else model
    rows = [(n, p.grad.detach().numpy()) for n, p in named
            if p.grad is not None and (include_bias or (p.ndim > 1 and not n.endswith("bias")))]
    if not rows:
        raise ValueError("plot_gradient_flow: no parameter has a gradient; call loss.backward() first")
    names = _layer_names([n for n, _ in rows])
    mean = [np.abs(g).mean() for _, g in rows]
    peak = [np.abs(g).max() for _, g in rows]
    fig, ax = plt.subplots(figsize=figsize)
    x = np.arange(len(rows))
    ax.bar(x, peak, alpha=0.35, color="tab:cyan", label="max |grad|")
    ax.bar(x, mean, alpha=0.9, color="tab:blue", label="mean |grad|")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("|∂L/∂W|")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_decision_boundary(model, X, y, path=None, resolution=200, ax=None, title=None, figsize=(5, 4.5)):
    """The classes a 2-D classifier predicts over the plane (argmax of its outputs; a single output column
    is a logit, positive meaning class 1), with the points ``X`` coloured by their labels ``y``."""
    plt = pyplot()
    X, y = np.asarray(X.detach().numpy() if isinstance(X, ag.Tensor) else X), \
        np.asarray(y.detach().numpy() if isinstance(y, ag.Tensor) else y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (N, 2), got {X.shape}")
    pad = 0.1 * (X.max(0) - X.min(0)) + 1e-9
    lo, hi = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = ag.tensor(np.c_[gx.ravel(), gy.ravel()].astype(np.float32))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with ag.no_grad():
            scores = model(grid).numpy()
    finally:
        if was_training:
            model.train()
    classes = scores.argmax(1) if scores.ndim == 2 and scores.shape[1] > 1 else (scores.reshape(-1) > 0).astype(int)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    n_classes = int(max(classes.max(), y.max())) + 1
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5, cmap="coolwarm", alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3,
               vmin=0, vmax=n_classes - 1)
    if title:
        ax.set_title(title)
    fig = fig or ax.figure
    return _finish(fig, path)


def optimizer_path(fn, optimizer_class, start, steps=50, dtype=ag.float64, **options):
    """The points an optimizer visits minimising ``fn`` from ``start``: an array of shape (steps + 1, 2).

    ``fn(w)`` takes a Tensor ``w`` of shape (2,) and returns a one-element Tensor; ``optimizer_class`` is any
    optimizer (``optim.SGD``, ``optim.Adam``, ``optim.LBFGS``, your own), built as
    ``optimizer_class([w], **options)`` and stepped with a closure (zero the gradient, evaluate, backward),
    so optimizers that re-evaluate the loss (L-BFGS) work too. Stops early if the loss stops being finite."""
    w = ag.tensor(np.asarray(start, dtype=np.float64), dtype=dtype, requires_grad=True)
    if tuple(w.shape) != (2,):
        raise ValueError(f"optimizer_path: start must hold 2 numbers (the function's two parameters), got shape "
                         f"{tuple(w.shape)}")
    optimizer = optimizer_class([w], **options)

    def closure():
        optimizer.zero_grad()
        loss = fn(w)
        loss.backward()
        return loss
    points = [w.detach().numpy().copy()]
    for _ in range(steps):
        loss = optimizer.step(closure)
        point = w.detach().numpy().copy()
        points.append(point)
        if not (np.all(np.isfinite(point)) and np.isfinite(float(loss.detach().numpy()))):
            break
    return np.array(points)


def _on_grid(fn, gx, gy):
    """fn over the grid: one vectorised call when fn is elementwise in w[0], w[1], else point by point."""
    with ag.no_grad():
        try:
            values = fn(ag.tensor(np.stack([gx, gy])))
            values = np.asarray(values.detach().numpy(), dtype=np.float64)
            if values.shape == gx.shape:
                return values
        except (RuntimeError, ValueError, TypeError, IndexError):
            pass
        return np.array([float(fn(ag.tensor(np.array([a, b]))).detach().numpy())
                         for a, b in zip(gx.ravel(), gy.ravel())]).reshape(gx.shape)


def plot_optimizer_paths(fn, optimizers, start, steps=50, xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), path=None, ax=None,
                         levels=25, resolution=200, title=None, figsize=(7, 5.5)):
    """Trajectories of several optimizers on the contour plot of a 2-parameter function (the slides'
    ill-conditioned quadratic f(x) = 0.1 x₁² + 2 x₂², Rosenbrock, ...).

    ``optimizers`` maps a label to ``(optimizer_class, options)``, e.g.
    ``{"SGD lr=0.4": (optim.SGD, {"lr": 0.4}), "Adam": (optim.Adam, {"lr": 0.5})}``; each starts at ``start``
    and takes ``steps`` steps (see :func:`optimizer_path`; a path that leaves the window is drawn up to its
    edge). Returns the ``Figure``; the paths are in ``figure.paths`` (label -> array of points)."""
    plt = pyplot()
    gx, gy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    values = _on_grid(fn, gx, gy)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    positive = values - values.min()
    ax.contour(gx, gy, np.log1p(positive), levels=levels, cmap="Greys", linewidths=0.6)
    paths = {}
    for label, (optimizer_class, options) in optimizers.items():
        points = optimizer_path(fn, optimizer_class, start, steps=steps, **dict(options))
        paths[label] = points
        outside = (points[:, 0] < xlim[0]) | (points[:, 0] > xlim[1]) | (points[:, 1] < ylim[0]) | (points[:, 1] > ylim[1])
        shown = points[:int(np.argmax(outside)) + 1] if outside.any() else points  # up to where it leaves
        ax.plot(shown[:, 0], shown[:, 1], marker="o", markersize=2.5, linewidth=1.2,
                label=label + (" (leaves the window)" if outside.any() else ""))
    ax.plot([start[0]], [start[1]], "k*", markersize=10)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if title:
        ax.set_title(title)
    fig = fig or ax.figure
    fig.paths = paths
    return _finish(fig, path)
