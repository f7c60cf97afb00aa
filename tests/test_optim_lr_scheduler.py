"""Learning-rate schedules: sequences by hand, against PyTorch's (when installed), state_dicts."""
import math
import warnings

import numpy as np
import pytest

import autograd as ag
import optim
from optim import lr_scheduler


def _opt(lr=0.1, groups=1):
    params = [{"params": [ag.tensor([1.0], requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)]
    return optim.SGD(params, lr=lr)


def _sequence(scheduler, epochs=12, metrics=None):
    lrs = [scheduler.get_last_lr()]
    for epoch in range(epochs):
        scheduler.optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


def test_step_lr_by_hand():
    s = lr_scheduler.StepLR(_opt(1.0), step_size=3, gamma=0.5)
    np.testing.assert_allclose(_sequence(s, 9)[:, 0], [1, 1, 1, .5, .5, .5, .25, .25, .25, .125])


def test_multistep_lr_by_hand():
    s = lr_scheduler.MultiStepLR(_opt(1.0), milestones=[2, 5, 5], gamma=0.1)
    np.testing.assert_allclose(_sequence(s, 6)[:, 0], [1, 1, .1, .1, .1, .001, .001], rtol=1e-12)


def test_exponential_lr_by_hand():
    s = lr_scheduler.ExponentialLR(_opt(2.0), gamma=0.9)
    np.testing.assert_allclose(_sequence(s, 5)[:, 0], 2.0 * 0.9 ** np.arange(6), rtol=1e-14)


def test_cosine_annealing_by_hand():
    s = lr_scheduler.CosineAnnealingLR(_opt(1.0), T_max=10, eta_min=0.1)
    lrs = _sequence(s, 20)[:, 0]
    expected = 0.1 + 0.9 * (1 + np.cos(np.pi * np.arange(21) / 10)) / 2  # and back up after T_max
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-14)


def test_lambda_lr_by_hand_per_group():
    s = lr_scheduler.LambdaLR(_opt(1.0, groups=2), lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.5 ** e])
    lrs = _sequence(s, 4)
    np.testing.assert_allclose(lrs[:, 0], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    np.testing.assert_allclose(lrs[:, 1], [2, 1, .5, .25, .125])


def test_reduce_on_plateau_by_hand():
    opt = _opt(1.0)
    s = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    losses = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    lrs = _sequence(s, len(losses), metrics=losses)[:, 0]
    # bad epochs counted after the best (4): reduce on the 2nd bad epoch, then 1 epoch of cooldown
    np.testing.assert_allclose(lrs, [1, 1, 1, 1, .5, .5, .5, .25, .25, .25, .2])


def test_reduce_on_plateau_max_mode_and_tensor_metric():
    opt = _opt(1.0)
    s = lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    s.step(ag.tensor(0.5))
    s.step(ag.tensor(0.55))  # not better by 0.1: reduce
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_scheduler_drives_the_optimizer():
    w = ag.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for expected_lr in (1.0, 0.5, 0.25):
        before = w.item()
        w.grad = ag.tensor([1.0])
        opt.step()
        assert before - w.item() == pytest.approx(expected_lr)
        sched.step()


def test_closed_form_with_explicit_epoch():
    s = lr_scheduler.StepLR(_opt(1.0), step_size=2, gamma=0.1)
    with pytest.warns(UserWarning, match="deprecated"):
        s.step(5)
    assert s.get_last_lr()[0] == pytest.approx(0.01)


def test_scheduler_state_dict_resumes():
    a = lr_scheduler.CosineAnnealingLR(_opt(1.0), T_max=7)
    _sequence(a, 3)
    opt_b = _opt(1.0)
    b = lr_scheduler.CosineAnnealingLR(opt_b, T_max=7)
    b.load_state_dict(a.state_dict())
    opt_b.param_groups[0]["lr"] = a.optimizer.param_groups[0]["lr"]
    np.testing.assert_array_equal(_sequence(a, 5), _sequence(b, 5))


def test_scheduler_errors():
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(_opt(), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(_opt(), T_max=0)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(_opt(groups=2), lr_lambda=[lambda e: 1.0])
    with pytest.raises(ValueError, match="Factor"):
        lr_scheduler.ReduceLROnPlateau(_opt(), factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(_opt(), mode="up")
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_opt(), step_size=1, last_epoch=3)


# ---------------------------------------------------------------------------- against PyTorch
SCHEDULES = [
    ("StepLR", dict(step_size=4, gamma=0.3)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 15], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.85)),
    ("CosineAnnealingLR", dict(T_max=9, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=5)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1.0 + 0.3 * e))),
]


@pytest.mark.parametrize("name,kw", SCHEDULES, ids=[n + str(i) for i, (n, _) in enumerate(SCHEDULES)])
def test_lr_sequence_equals_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours = getattr(lr_scheduler, name)(_opt(0.5, groups=2), **kw)
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5 * (i + 1)} for i in range(2)]
    topt = torch.optim.SGD(params, lr=0.5)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    mine, ref = [ours.get_last_lr()], [theirs.get_last_lr()]
    for _ in range(25):
        ours.optimizer.step()
        topt.step()
        ours.step()
        theirs.step()
        mine.append(ours.get_last_lr())
        ref.append(theirs.get_last_lr())
    np.testing.assert_allclose(np.array(mine), np.array(ref), rtol=1e-15, atol=0)


def test_reduce_on_plateau_equals_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = list(np.cumsum(rng.normal(-0.02, 0.1, 60)) + 5)
    for kw in (dict(patience=2, factor=0.5), dict(mode="max", patience=1, cooldown=2, threshold_mode="abs",
                                                   threshold=0.05, min_lr=0.01)):
        ours = lr_scheduler.ReduceLROnPlateau(_opt(1.0), **kw)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m in metrics:
                ours.step(m)
                theirs.step(m)
                assert ours.get_last_lr() == theirs.get_last_lr()
        assert ours.get_last_lr()[0] < 1.0


def test_closed_forms_equal_the_recursive_forms():
    for name, kw in SCHEDULES[:4]:
        rec = getattr(lr_scheduler, name)(_opt(1.0), **kw)
        for epoch in range(1, 20):
            rec.optimizer.step()
            rec.step()
            closed = getattr(lr_scheduler, name)(_opt(1.0), **kw)
            with pytest.warns(UserWarning):
                closed.step(epoch)
            assert math.isclose(rec.get_last_lr()[0], closed.get_last_lr()[0], rel_tol=1e-12), (name, epoch)
