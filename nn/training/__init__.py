"""Training: ``fit`` (a progress bar, validation each epoch, callbacks, LR schedules) returning a
``History`` that plots itself; ``evaluate`` and ``predict``; callbacks ``EarlyStopping``,
``ModelCheckpoint`` (through ``nn.save``) and ``GradientFlow`` (per-layer gradient norms, to see
vanishing gradients).

    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), train_loader,
    ...               val_loader, epochs=20, callbacks=[EarlyStopping(patience=3)])
    >>> history.plot(path="loss.png")

(Training code may use numpy: see DEVELOPERS.md.)
"""
from .callbacks import Callback, EarlyStopping, GradientFlow, LambdaCallback, ModelCheckpoint  # noqa: F401
from .history import History  # noqa: F401
from .loop import TrainingState, evaluate, fit, predict  # noqa: F401
from .progress import progress_enabled  # noqa: F401
