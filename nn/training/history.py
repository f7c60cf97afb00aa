"""``History``: what ``fit`` measured, epoch by epoch."""


class History:
    """Per-epoch lists in ``.history``: ``loss`` (the mean training loss), the training metrics
    (``accuracy``, ...), ``val_loss`` and ``val_<metric>`` when there is validation data, and ``lr`` (the
    learning rate the epoch used). ``history["val_loss"]`` reads one list; ``.plot()`` draws them.
    ``compiled_step``: the ``autograd.compile``d training step of ``fit(compile=True)``, else None."""

    def __init__(self):
        self.history = {}
        self.compiled_step = None
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        if key not in self.history:
            raise KeyError(f"History has no {key!r}; it has {list(self.history)}")
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    def best(self, monitor="val_loss", mode="auto"):
        """``(epoch, value)`` of the best value of ``monitor`` (lowest for losses and errors, highest for
        accuracy and R²; ``mode`` 'min'/'max' to say), epochs counted from 0."""
        values = self[monitor]
        if mode == "auto":
            mode = "max" if is_higher_better(monitor) else "min"
        pick = max if mode == "max" else min
        epoch = pick(range(len(values)), key=lambda i: values[i])
        return self.epoch[epoch], values[epoch]

    def plot(self, keys=None, path=None, figsize=None, title=None):
        """Loss and metric curves, train against validation, one panel each; returns the matplotlib
        Figure and saves it when ``path`` is given. See ``nn.plots.plot_history``."""
        from ..plots import plot_history
        return plot_history(self, keys=keys, path=path, figsize=figsize, title=title)

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History(epochs={len(self.epoch)}{', ' if last else ''}{last})"


def is_higher_better(name):
    base = name[4:] if name.startswith("val_") else name
    return base in ("accuracy", "acc", "r2", "r2_score") or "acc" in base
