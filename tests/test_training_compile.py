"""fit(..., compile=True): the compiled training step gives the eager run's history and parameters, with
metrics, callbacks, a per-epoch scheduler, validation and a last partial batch, and it is replayed."""
import numpy as np
import pytest

import autograd as ag
import nn
import optim
from nn.data import DataLoader, TensorDataset, make_moons
from nn.training import Callback, EarlyStopping, GradientFlow, LambdaCallback, ModelCheckpoint, fit

TOLERANCE = 1e-6


def _moons():
    X, y = make_moons(180, noise=0.15, random_state=0)
    # 140 training samples in batches of 32: the last batch has 12
    train = DataLoader(TensorDataset(X[:140], y[:140]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(X[140:], y[140:]), batch_size=64)
    return train, val


def _mlp():
    return nn.MLP([2, 16, 16, 2], dropout=0.2)


def _images():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((44, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64)  # a label the pixels decide
    train = DataLoader(TensorDataset(X[:36], y[:36]), batch_size=16, shuffle=True)  # last batch: 4
    val = DataLoader(TensorDataset(X[36:], y[36:]), batch_size=8)
    return train, val


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.25), nn.Linear(4 * 4 * 4, 2))


def _train(make_model, data, compile, epochs=3, callbacks=(), optimizer=optim.Adam, lr=0.02, scheduler=True):
    ag.manual_seed(0)  # the same weights, shuffling and dropout masks for both runs
    train, val = data()
    model = make_model()
    opt = optimizer(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5) if scheduler else None
    history = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=epochs, metrics=("accuracy",),
                  callbacks=list(callbacks), scheduler=schedule, progress=False, compile=compile)
    return history, model, opt


def _assert_same_run(eager, compiled):
    (h_eager, m_eager, _), (h_compiled, m_compiled, _) = eager, compiled
    assert h_compiled.epoch == h_eager.epoch
    assert set(h_compiled.history) == set(h_eager.history) == {"loss", "accuracy", "val_loss", "val_accuracy",
                                                                "lr"}
    for key, values in h_eager.history.items():
        np.testing.assert_allclose(h_compiled[key], values, rtol=TOLERANCE, atol=TOLERANCE, err_msg=key)
    state_eager, state_compiled = m_eager.state_dict(), m_compiled.state_dict()
    assert list(state_compiled) == list(state_eager)
    for name, value in state_eager.items():  # parameters and BatchNorm's running statistics
        np.testing.assert_allclose(state_compiled[name].numpy(), value.numpy(), rtol=TOLERANCE, atol=TOLERANCE,
                                   err_msg=name)


def _batches_per_epoch(data):
    return len(data()[0])


def test_compiled_mlp_with_dropout_matches_eager_and_replays():
    eager = _train(_mlp, _moons, compile=False)
    compiled = _train(_mlp, _moons, compile=True)
    _assert_same_run(eager, compiled)
    assert eager[0].compiled_step is None
    step = compiled[0].compiled_step
    # a capture for the full batches and one for the last partial batch; every other batch replays
    assert step.captures == 2 and step.eager_calls == 0
    assert step.replays == 3 * _batches_per_epoch(_moons) - 2
    assert compiled[0]["lr"] == [0.02, 0.01, 0.005]  # the scheduler's lr reached the replayed update
    listing = str(step.program)
    assert "Optimizer.step" in listing and "bernoulli" in listing and "Linear" in listing


def test_compiled_cnn_with_batchnorm_and_dropout_matches_eager_and_replays():
    eager = _train(_cnn, _images, compile=False, optimizer=optim.SGD, lr=0.1)
    compiled = _train(_cnn, _images, compile=True, optimizer=optim.SGD, lr=0.1)
    _assert_same_run(eager, compiled)
    step = compiled[0].compiled_step
    assert step.captures == 2 and step.eager_calls == 0
    assert step.replays == 3 * _batches_per_epoch(_images) - 2
    # the running statistics moved during training and validation saw them (eval mode, eagerly)
    assert not np.allclose(compiled[1][1].running_mean.numpy(), 0)


def test_gradient_flow_reads_the_gradients_of_each_compiled_step():
    flow_eager, flow_compiled = GradientFlow(include_bias=True), GradientFlow(include_bias=True)
    eager = _train(_mlp, _moons, compile=False, callbacks=[flow_eager])
    compiled = _train(_mlp, _moons, compile=True, callbacks=[flow_compiled])
    _assert_same_run(eager, compiled)
    assert flow_compiled.steps == flow_eager.steps == list(range(3 * _batches_per_epoch(_moons)))
    for name, norms in flow_eager.norms.items():
        np.testing.assert_allclose(flow_compiled.norms[name], norms, rtol=TOLERANCE, err_msg=name)
    assert compiled[0].compiled_step.replays == 3 * _batches_per_epoch(_moons) - 2


def test_a_callback_between_backward_and_step_sees_the_gradients_before_the_update():
    seen = []

    def before_update(state):
        weight = state.model[0].weight
        seen.append((weight.grad is not None, weight.detach().numpy().copy()))

    probe = LambdaCallback(on_after_backward=before_update)
    weights_after = []
    after = LambdaCallback(on_batch_end=lambda state, logs: weights_after.append(
        state.model[0].weight.detach().numpy().copy()))
    _, model, _ = _train(_mlp, _moons, compile=True, epochs=1, callbacks=[probe, after])
    assert all(has_grad for has_grad, _ in seen)
    # what the callback saw is the weight of the previous batch's end: the update had not happened yet
    for (_, before), previous in zip(seen[1:], weights_after):
        np.testing.assert_array_equal(before, previous)
    assert not np.array_equal(seen[-1][1], weights_after[-1])


def test_early_stopping_and_checkpoints_work_with_a_compiled_step(tmp_path):
    def run(compile):
        stopper = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # never improves: stops after 1
        checkpoint = ModelCheckpoint(str(tmp_path / f"best-{compile}.npz"), monitor="val_loss")
        history, model, _ = _train(_mlp, _moons, compile=compile, epochs=5, callbacks=[stopper, checkpoint])
        return history, model, stopper, checkpoint

    h_eager, m_eager, stop_eager, ckpt_eager = run(False)
    h_compiled, m_compiled, stop_compiled, ckpt_compiled = run(True)
    assert len(h_compiled) == len(h_eager) == 2 and stop_compiled.stopped_epoch == stop_eager.stopped_epoch == 1
    np.testing.assert_allclose(h_compiled["loss"], h_eager["loss"], rtol=TOLERANCE)
    saved_eager, saved_compiled = nn.load(ckpt_eager.best_path), nn.load(ckpt_compiled.best_path)
    for name, value in saved_eager.items():
        np.testing.assert_allclose(np.asarray(saved_compiled[name]), np.asarray(value), atol=TOLERANCE)
    for (name, p_eager), (_, p_compiled) in zip(m_eager.named_parameters(), m_compiled.named_parameters()):
        np.testing.assert_allclose(p_compiled.detach().numpy(), p_eager.detach().numpy(), atol=TOLERANCE,
                                   err_msg=name)  # the restored best weights


def test_the_compiled_step_is_kept_for_every_epoch_and_mode_switch():
    modes = []

    class Modes(Callback):
        def on_epoch_end(self, state, logs):
            modes.append(state.model.training)

    history, model, _ = _train(_mlp, _moons, compile=True, epochs=4, callbacks=[Modes()], scheduler=False)
    step = history.compiled_step
    # validation switches the model to eval mode and back each epoch; training still replays
    assert step.captures == 2 and step.replays == 4 * _batches_per_epoch(_moons) - 2
    assert modes == [True] * 4 and model.training


def test_compile_must_be_a_bool():
    train, _ = _moons()
    model = _mlp()
    with pytest.raises(TypeError, match="compile must be True or False"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, compile="yes",
            progress=False)


def test_the_demo_times_both_ways_on_the_same_training():
    import importlib.util
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("numbagrad_demo", os.path.join(root, "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    (X, y), _, _ = demo.load_data(0)
    eager, compiled, same = demo.time_compiled_training(X[:160], y[:160], batch_size=32, lr=3e-3, seed=0,
                                                        epochs=2, rounds=1)
    assert same  # the compiled run logged the eager run's losses
    assert eager > 0 and compiled > 0
