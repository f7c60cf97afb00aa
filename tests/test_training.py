"""nn.training: fit, callbacks, history, progress output, plots."""
import os

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from nn.data import DataLoader, TensorDataset, make_moons
from nn.training import Callback, EarlyStopping, GradientFlow, History, ModelCheckpoint, evaluate, fit, predict


def _problem(n=200, seed=0):
    X, y = make_moons(n, noise=0.15, random_state=seed)
    train = DataLoader(TensorDataset(X[:150], y[:150]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(X[150:], y[150:]), batch_size=64)
    return train, val


def _model():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


def test_fit_learns_and_records_history():
    ag.manual_seed(0)
    train, val = _problem()
    model = _model()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), train, val, epochs=15,
                  progress=False)
    assert isinstance(history, History) and len(history) == 15
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 15 for v in history.history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.85
    assert model.training  # the mode it had before fit
    logs = evaluate(model, val, nn.CrossEntropyLoss())
    assert logs["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert predict(model, ag.zeros(5, 2)).shape == (5, 2)


def test_validation_runs_in_eval_mode_without_grad():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            seen.append((self.training, ag.is_grad_enabled()))
            return self.fc(x)

    train, val = _problem()
    model = Probe()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=1, progress=False)
    assert seen[:len(train)] == [(True, True)] * len(train)
    assert seen[len(train):] == [(False, False)] * len(val)


class _ScriptedLoss(Callback):
    """Replaces the logged val_loss by a script, to test the callbacks deterministically."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, state, logs):
        logs["val_loss"] = self.values[state.epoch]
        # remember the weights of each epoch to check which were restored
        state.history.history.setdefault("weights", []).append(state.model[0].weight.detach().numpy().copy())


def test_early_stopping_stops_and_restores_the_best_weights():
    ag.manual_seed(0)
    train, val = _problem()
    model = _model()
    script = _ScriptedLoss([1.0, 0.5, 0.4, 0.45, 0.41, 0.6, 0.7, 0.2, 0.1, 0.1])
    stopper = EarlyStopping(monitor="val_loss", patience=3)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), train, val, epochs=10,
                  callbacks=[script, stopper], progress=False)
    assert len(history) == 6  # best at epoch 2 (0-based), then 3 epochs without improvement
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 5 and stopper.best == 0.4
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), history["weights"][2])
    assert not np.array_equal(history["weights"][5], history["weights"][2])


def test_early_stopping_min_delta_mode_and_missing_monitor():
    ag.manual_seed(0)
    train, val = _problem()
    model = _model()
    stopper = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=2.0, restore_best_weights=False)
    assert stopper.mode == "max"
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=5,
                  callbacks=[stopper], progress=False)
    assert len(history) == 2  # nothing improves accuracy by 2.0
    with pytest.raises(KeyError, match="val_loader"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=2,
            callbacks=[EarlyStopping()], progress=False)


def test_model_checkpoint_saves_the_best(tmp_path):
    ag.manual_seed(0)
    train, val = _problem()
    model = _model()
    path = tmp_path / "best.npz"
    script = _ScriptedLoss([1.0, 0.5, 0.7])
    checkpoint = ModelCheckpoint(path)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), train, val, epochs=3,
                  callbacks=[script, checkpoint], progress=False)
    saved = nn.load(path)
    np.testing.assert_array_equal(saved["0.weight"].numpy(), history["weights"][1])
    every = ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.npz"), save_best_only=False)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=2, callbacks=[every],
        progress=False)
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "ckpt-1.npz", "ckpt-2.npz"]


def test_schedulers_step_per_epoch_and_plateau_reads_val_loss():
    train, val = _problem()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=1.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, train, epochs=3, metrics=(), progress=False,
                  scheduler=optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    assert history["lr"] == [1.0, 0.5, 0.25] and opt.param_groups[0]["lr"] == 0.125
    opt = optim.SGD(model.parameters(), lr=0.0)  # no learning: val_loss never improves
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.param_groups[0]["lr"] = 0.0
    calls = []
    original = plateau.step
    plateau.step = lambda metrics: (calls.append(metrics), original(metrics))
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=2, progress=False, scheduler=plateau)
    assert calls == history["val_loss"]


def test_progress_is_silent_when_asked_and_without_a_terminal(capsys):
    train, val = _problem()
    model = _model()
    for progress in (False, True):  # True: pytest's captured streams are not terminals
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, val, epochs=2,
            progress=progress)
        out, err = capsys.readouterr()
        assert out == "" and err == ""


def test_progress_bar_when_forced(capsys):
    train, _ = _problem()
    model = _model()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=1, progress="always")
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "loss=" in err


def test_gradient_flow_records_every_weight():
    ag.manual_seed(0)
    train, _ = _problem()
    model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(2, 2), nn.Sigmoid())], nn.Linear(2, 2))
    flow = GradientFlow()
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=2, metrics=(),
        callbacks=[flow], progress=False)
    assert list(flow.norms) == ["0.weight", "2.weight", "4.weight", "6.weight", "8.weight"]
    assert all(len(v) == 2 * len(train) for v in flow.norms.values()) and len(flow.steps) == 2 * len(train)
    means = flow.mean()
    assert means["0.weight"] < means["8.weight"]  # sigmoids shrink the gradient on its way back


def test_plots_return_figures_and_save(tmp_path):
    pytest.importorskip("matplotlib")
    from nn.plots import plot_decision_boundary, plot_gradient_flow
    ag.manual_seed(0)
    train, val = _problem()
    model = _model()
    flow = GradientFlow()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), train, val, epochs=2,
                  callbacks=[flow], progress=False)
    fig = history.plot(path=tmp_path / "history.png")
    assert len(fig.axes) == 2 and (tmp_path / "history.png").stat().st_size > 0
    assert flow.plot(path=tmp_path / "flow.png") is not None and (tmp_path / "flow.png").exists()
    assert plot_gradient_flow(model, path=tmp_path / "snap.png") is not None
    X, y = make_moons(50, random_state=0)
    assert plot_decision_boundary(model, X, y, path=tmp_path / "boundary.png", resolution=30) is not None
    import matplotlib.pyplot as plt
    plt.close("all")


def test_bad_batches_and_arguments_are_explained():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="inputs..., target"):
        fit(model, nn.CrossEntropyLoss(), opt, [ag.zeros(4, 2)], progress=False)
    with pytest.raises(TypeError, match="Callback"):
        fit(model, nn.CrossEntropyLoss(), opt, [], callbacks=[print], progress=False)
