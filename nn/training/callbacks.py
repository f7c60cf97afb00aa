"""Callbacks of ``fit``: ``EarlyStopping``, ``ModelCheckpoint``, ``GradientFlow``, ``LambdaCallback``.

A callback subclasses ``Callback`` and overrides any of its hooks; each gets the ``TrainingState``
(``model, optimizer, history, epoch, epochs, step, stop_training``), and the epoch hooks the epoch's
``logs`` (``{"loss": ..., "val_loss": ..., ...}``). Setting ``state.stop_training = True`` ends training
after the current epoch.
"""
import math

import numpy as np

from ..serialization import save
from .history import is_higher_better


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_after_backward(self, state):
        """After ``loss.backward()``, before ``optimizer.step()``: the gradients are in ``.grad``."""

    def on_batch_end(self, state, logs):
        pass

    def on_epoch_end(self, state, logs):
        pass

    def on_train_end(self, state):
        pass


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda state, logs: print(logs))``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


class _Monitor:
    """Tracks the best value of a logged quantity ('min' for losses, 'max' for accuracy and R²)."""

    def __init__(self, owner, monitor, mode, min_delta):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.owner = owner
        self.monitor = monitor
        self.mode = ("max" if is_higher_better(monitor) else "min") if mode == "auto" else mode
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs):
        if self.monitor not in logs:
            hint = " (it needs fit(..., val_loader=...), or monitor='loss')" if self.monitor.startswith("val_") else ""
            raise KeyError(f"{self.owner} monitors {self.monitor!r}, which fit did not log{hint}; logged: "
                           f"{sorted(logs)}")
        return float(logs[self.monitor])

    def improved(self, current):
        if math.isnan(current):
            return False
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta


def _copy_state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs in a row,
    and (``restore_best_weights``, on by default) put back the weights of the best epoch at the end.

    After training: ``best`` (the best value), ``best_epoch`` (counted from 0) and ``stopped_epoch``
    (the epoch it stopped at, None if it did not stop early)."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto", restore_best_weights=True,
                 verbose=False):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self._monitor = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose

    @property
    def mode(self):
        return self._monitor.mode

    def on_train_begin(self, state):
        self._monitor.reset()
        self.wait = 0
        self.best = self._monitor.best
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None
        self.last_epoch = None

    def on_epoch_end(self, state, logs):
        current = self._monitor.value(logs)
        self.last_epoch = state.epoch
        if self._monitor.improved(current):
            self._monitor.best = self.best = current
            self.best_epoch = state.epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(state.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.epoch
            state.stop_training = True

    def on_train_end(self, state):
        restored = (self.restore_best_weights and self.best_weights is not None
                    and self.best_epoch != self.last_epoch)
        if restored:
            state.model.load_state_dict(self.best_weights)
        if self.verbose and self.stopped_epoch is not None:
            note = f"; restored the weights of epoch {self.best_epoch + 1}" if restored else ""
            print(f"Early stopping at epoch {self.stopped_epoch + 1}: {self.monitor} has not improved for "
                  f"{self.patience} epochs (best {self.best:.4f} at epoch {self.best_epoch + 1}){note}")


class ModelCheckpoint(Callback):
    """Save the model's ``state_dict`` with ``nn.save`` after each epoch: only when ``monitor`` improved
    (``save_best_only``, the default), or every epoch. ``path`` may hold ``{epoch}`` and logged names
    (``"ckpt-{epoch:02d}-{val_loss:.3f}.npz"``); ``.best_path`` is the last file written."""

    def __init__(self, path, monitor="val_loss", mode="auto", save_best_only=True, verbose=False):
        self.path = str(path)
        self._monitor = _Monitor("ModelCheckpoint", monitor, mode, 0.0)
        self.monitor, self.save_best_only, self.verbose = monitor, save_best_only, verbose
        self.best_path = None
        self.best = None

    def on_train_begin(self, state):
        self._monitor.reset()

    def on_epoch_end(self, state, logs):
        if self.save_best_only:
            current = self._monitor.value(logs)
            if not self._monitor.improved(current):
                return
            self._monitor.best = self.best = current
        path = self.path.format(epoch=state.epoch + 1, **logs)
        save(state.model.state_dict(), path)
        self.best_path = path
        if self.verbose:
            print(f"epoch {state.epoch + 1}: saved {path}")


class GradientFlow(Callback):
    """Record the size of each layer's gradient during training, to see whether gradients vanish (or
    explode) on their way back to the first layers.

    Every ``every`` steps, after ``backward()``, it records for each weight (parameters with 2 or more
    dimensions; biases too with ``include_bias``) the ``stat`` of its gradient: 'norm' (‖∂L/∂W‖₂, the
    default), 'mean_abs' or 'max_abs'. ``norms`` maps each parameter name to its list of values,
    ``steps`` holds the step numbers; ``plot()`` draws them (``nn.plots.plot_gradient_norms``).
    """

    _STATS = {"norm": lambda g: float(np.sqrt(np.sum(np.square(g, dtype=np.float64)))),
              "mean_abs": lambda g: float(np.mean(np.abs(g))),
              "max_abs": lambda g: float(np.max(np.abs(g)))}

    def __init__(self, every=1, include_bias=False, stat="norm"):
        if stat not in self._STATS:
            raise ValueError(f"GradientFlow: stat must be one of {sorted(self._STATS)}, got {stat!r}")
        self.every = max(1, int(every))
        self.include_bias = include_bias
        self.stat = stat
        self.norms = {}
        self.shapes = {}
        self.steps = []

    def _tracked(self, name, p):
        return self.include_bias or (p.ndim > 1 and not name.endswith("bias"))

    def on_after_backward(self, state):
        if state.step % self.every:
            return
        measure = self._STATS[self.stat]
        recorded = False
        for name, p in state.model.named_parameters():
            if p.grad is None or not self._tracked(name, p):
                continue
            self.norms.setdefault(name, []).append(measure(p.grad.numpy()))
            self.shapes[name] = tuple(p.shape)
            recorded = True
        if recorded:
            self.steps.append(state.step)

    def mean(self):
        """``{name: mean of the recorded values}``, from the first layer to the last."""
        return {name: float(np.mean(values)) for name, values in self.norms.items()}

    def plot(self, path=None, title="Gradient flow", **kwargs):
        from ..plots import plot_gradient_norms
        ylabel = {"norm": "‖∂L/∂W‖", "mean_abs": "mean |∂L/∂W|", "max_abs": "max |∂L/∂W|"}[self.stat]
        labels = {name: f"{name[:-7] if name.endswith('.weight') else name} "
                        f"({'×'.join(str(d) for d in self.shapes[name])})" for name in self.norms}
        return plot_gradient_norms(self.norms, steps=self.steps, path=path, title=title, ylabel=ylabel,
                                   labels=labels, **kwargs)
