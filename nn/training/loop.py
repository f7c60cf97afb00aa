"""``fit``, ``evaluate`` and ``predict``: the training loop written once, as a PyTorch user writes it.

Each epoch: ``model.train()``; for every batch ``(inputs..., target)`` of ``train_loader``: forward,
``loss_fn(output, target)``, ``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()``; then
validation in ``model.eval()`` under ``no_grad``; then the scheduler's step and the callbacks.
With ``fit(..., compile=True)`` the batch's step goes through ``autograd.compile``: captured at the
first batch (and at each new batch shape), replayed at the others.
"""
import inspect
import math

import numpy as np

import autograd as ag

from ..metrics import get_metric
from .callbacks import Callback
from .history import History
from .progress import format_logs, make_bar, progress_enabled


class TrainingState:
    """What callbacks see: the model, the optimizer, the history so far, the epoch (from 0) of
    ``epochs``, the global ``step`` (batches so far), and ``stop_training`` to set to end early."""

    def __init__(self, model, optimizer, history, epochs):
        self.model, self.optimizer, self.history, self.epochs = model, optimizer, history, epochs
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self.loss = None  # the last batch's loss Tensor


def _split_batch(batch, where):
    if isinstance(batch, ag.Tensor) or not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(f"{where}: each batch must be a tuple (inputs..., target), as a DataLoader over "
                         f"TensorDataset(X, y) gives; got {type(batch).__name__}")
    return tuple(batch[:-1]), batch[-1]


def _metric_list(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    return [get_metric(m) for m in metrics]


def _batch_size(target):
    return target.shape[0] if target.ndim else 1


class _Accumulator:
    """The mean loss (weighted by batch size) and the outputs/targets that the metrics need."""

    def __init__(self, keep_outputs):
        self.total, self.count = 0.0, 0
        self.keep = keep_outputs
        self.outputs, self.targets = [], []

    def add(self, loss, output, target):
        n = _batch_size(target)
        self.total += float(loss) * n
        self.count += n
        if self.keep:
            self.outputs.append(output.detach().numpy())
            self.targets.append(target.detach().numpy())

    @property
    def mean(self):
        return self.total / self.count if self.count else math.nan

    def logs(self, metric_fns, prefix=""):
        logs = {prefix + "loss": self.mean}
        if metric_fns and self.outputs:
            outputs, targets = np.concatenate(self.outputs), np.concatenate(self.targets)
            for name, fn in metric_fns:
                logs[prefix + name] = float(fn(targets, outputs))
        return logs


def evaluate(model, loader, loss_fn=None, metrics=("accuracy",)):
    """The mean loss and the metrics of ``model`` over ``loader``, in eval mode under ``no_grad``
    (the model's mode is restored after): ``{"loss": ..., "accuracy": ...}``."""
    metric_fns = _metric_list(metrics)
    was_training = model.training
    model.eval()
    acc = _Accumulator(keep_outputs=bool(metric_fns))
    try:
        with ag.no_grad():
            for batch in loader:
                inputs, target = _split_batch(batch, "evaluate")
                output = model(*inputs)
                loss = loss_fn(output, target).item() if loss_fn is not None else 0.0
                acc.add(loss, output, target)
    finally:
        model.train(was_training)
    logs = acc.logs(metric_fns)
    if loss_fn is None:
        logs.pop("loss")
    return logs


def predict(model, data, batch_size=256):
    """``model``'s outputs for ``data`` (a Tensor of inputs, or a loader whose batches start with the
    inputs), in eval mode under ``no_grad``, concatenated into one Tensor."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with ag.no_grad():
            if isinstance(data, ag.Tensor):
                for start in range(0, data.shape[0], batch_size):
                    outputs.append(model(data[start:start + batch_size]))
            else:
                for batch in data:
                    inputs = batch[:-1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else \
                        (batch if isinstance(batch, (tuple, list)) else (batch,))
                    outputs.append(model(*inputs))
    finally:
        model.train(was_training)
    return ag.cat(outputs) if outputs else ag.zeros(0)


def _wants_metric(scheduler):
    """ReduceLROnPlateau-like schedulers take the monitored value in ``step(metrics)``."""
    try:
        params = list(inspect.signature(scheduler.step).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].default is inspect.Parameter.empty and \
        params[0].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _reads_gradients(callback):
    """Whether ``callback`` does something between backward and the optimizer's step."""
    return type(callback).on_after_backward is not Callback.on_after_backward or \
        "on_after_backward" in vars(callback)


def _training_step(model, loss_fn, optimizer, update):
    """The step of one batch: forward, loss, ``zero_grad``, backward and (``update``) the optimizer's
    step; returns ``(loss, output)``. Eager ``fit`` runs it with ``update=False`` and steps the optimizer
    after the callbacks; ``fit(compile=True)`` compiles it."""
    def step(inputs, target):
        output = model(*inputs)
        loss = loss_fn(output, target)
        if loss.ndim != 0:
            raise ValueError(f"fit: loss_fn must return a scalar (reduction='mean' or 'sum'), got "
                             f"shape {tuple(loss.shape)}")
        optimizer.zero_grad()
        loss.backward()
        if update:
            optimizer.step()
        return loss, output
    return step


def fit(model, loss_fn, optimizer, train_loader, val_loader=None, epochs=1, metrics=("accuracy",), callbacks=(),
        scheduler=None, progress=True, compile=False):
    """Train ``model`` for ``epochs`` epochs and return a ``History``.

    ``train_loader`` (and ``val_loader``) yield ``(inputs..., target)`` batches, e.g. ``DataLoader(
    TensorDataset(X, y), batch_size=64, shuffle=True)``. ``metrics``: names ('accuracy', 'mse', 'rmse',
    'mae', 'r2') or functions ``f(y_true, y_pred)``, computed over each epoch's training outputs and over
    the validation data; ``metrics=()`` (or None) for none. ``callbacks``: ``EarlyStopping``,
    ``ModelCheckpoint``, ``GradientFlow`` or your own ``Callback``. ``scheduler``: an
    ``optim.lr_scheduler`` (or a list of them) stepped once per epoch; ``ReduceLROnPlateau`` gets
    ``val_loss`` (``loss`` without validation data). ``progress``: a tqdm bar per epoch on a terminal
    (never in CI or when output is not a terminal); False for none, ``"always"`` to force it.

    ``compile=True`` runs each batch's step (forward, loss, ``zero_grad``, backward, ``optimizer.step``)
    through ``autograd.compile``: the first batch runs eagerly while it is captured, and the next
    batches of the same shape replay the captured program (a new shape, such as the last partial batch,
    is captured once more; so is the step after something changes a guard). The history, metrics and
    parameters are the eager run's to rounding; ``history.compiled_step`` is the compiled step, whose
    ``program`` prints what it runs and whose ``captures``/``replays`` count the calls. The Python of the
    model's ``forward`` and of ``loss_fn`` runs at capture only. A callback with ``on_after_backward``
    (``GradientFlow``, your own) still runs between backward and the optimizer's step, which then runs
    eagerly after it: only forward and backward are compiled. Validation, ``evaluate`` and ``predict``
    run eagerly (in eval mode under ``no_grad``, once per epoch, they are a small part of the time).

    The model is left in the mode it had before ``fit`` (call ``model.eval()`` before predicting).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if not isinstance(compile, bool):
        raise TypeError(f"fit: compile must be True or False, got {compile!r}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {type(loss_fn).__name__}")
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be nn.training.Callback instances, got {type(cb).__name__}")
    schedulers = [] if scheduler is None else list(scheduler) if isinstance(scheduler, (list, tuple)) else [scheduler]
    metric_fns = _metric_list(metrics)
    show = progress_enabled(progress)
    history = History()
    state = TrainingState(model, optimizer, history, epochs)
    was_training = model.training
    # A compiled step holds the update too, unless a callback must run between backward and the update.
    update_in_step = compile and not any(_reads_gradients(cb) for cb in callbacks)
    train_step = _training_step(model, loss_fn, optimizer, update=update_in_step)
    if compile:
        train_step = history.compiled_step = ag.compile(train_step)

    for cb in callbacks:
        cb.on_train_begin(state)
    try:
        for epoch in range(epochs):
            state.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(state)
            model.train()
            lr = optimizer.param_groups[0]["lr"]
            acc = _Accumulator(keep_outputs=bool(metric_fns))
            bar = make_bar(show, len(train_loader) if hasattr(train_loader, "__len__") else None,
                           f"Epoch {epoch + 1}/{epochs}")
            try:
                for batch in train_loader:
                    inputs, target = _split_batch(batch, "fit")
                    loss, output = train_step(inputs, target)
                    state.loss = loss
                    if not update_in_step:
                        for cb in callbacks:
                            cb.on_after_backward(state)
                        optimizer.step()
                    value = loss.item()
                    acc.add(value, output, target)
                    state.step += 1
                    bar.update(1)
                    bar.set_postfix_str(f"loss={acc.mean:.4f}", refresh=False)
                    for cb in callbacks:
                        cb.on_batch_end(state, {"loss": value})
                logs = acc.logs(metric_fns)
                if val_loader is not None:
                    logs.update({"val_" + k: v for k, v in evaluate(model, val_loader, loss_fn, metrics).items()})
                logs["lr"] = lr
                bar.set_postfix_str(format_logs({k: v for k, v in logs.items() if k != "lr"}))
            finally:
                bar.close()
            for s in schedulers:
                if _wants_metric(s):
                    s.step(logs["val_loss"] if "val_loss" in logs else logs["loss"])
                else:
                    s.step()
            history.append(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(state, logs)
            if state.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(state)
    finally:
        model.train(was_training)
    return history
