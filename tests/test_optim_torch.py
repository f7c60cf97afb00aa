"""30-step trajectories equal PyTorch's for every optimizer and option (skipped without torch)."""
import numpy as np
import pytest

import autograd as ag
import optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-4)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
]

SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _loss(params, targets, lib):
    """A non-quadratic loss so gradients change along the trajectory."""
    total = 0
    for p, a in zip(params, targets):
        total = total + (lib.tanh(p) * a).sum() + 0.1 * (p * p * p * p).sum()
    return total


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                                                for n, kw in CASES])
def test_30_step_trajectory_equals_torch(name, kw, dtype):
    rng = np.random.default_rng(0)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    targets = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [ag.tensor(x.copy(), requires_grad=True) for x in inits]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in inits]
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], "lr": kw["lr"] * 2}], **kw)
    ref = getattr(torch.optim, name)([{"params": theirs[:2]}, {"params": theirs[2:], "lr": kw["lr"] * 2}],
                                     **kw)
    ours_t = [ag.tensor(a) for a in targets]
    theirs_t = [torch.tensor(a) for a in targets]
    # float64 is the strict check; in float32 the two libraries' tanh differ by an ulp or so, and
    # RMSprop/Adam's g/sqrt(v) amplifies that where a gradient passes near 0.
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=1e-4, atol=5e-5)
    for _ in range(30):
        opt.zero_grad()
        ref.zero_grad()
        sign = -1 if kw.get("maximize") else 1  # maximize the negated loss: same bounded trajectory
        (sign * _loss(ours, ours_t, ag)).backward()
        (sign * _loss(theirs, theirs_t, torch)).backward()
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
    for p, q in zip(ours, theirs):  # and the optimizer state
        for key, value in ref.state[q].items():
            mine = opt.state[p][key]
            np.testing.assert_allclose(np.asarray(mine.numpy()), value.numpy(), **tol)


def test_state_dict_layout_matches_torch():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    ours, theirs = optim.Adam([w], lr=0.1), torch.optim.Adam([v], lr=0.1)
    (w * w).sum().backward()
    (v * v).sum().backward()
    ours.step()
    theirs.step()
    a, b = ours.state_dict(), theirs.state_dict()
    assert set(a["state"][0]) == set(b["state"][0])
    assert a["state"][0]["step"].dtype == ag.float32 and b["state"][0]["step"].dtype == torch.float32
    assert a["param_groups"][0]["params"] == b["param_groups"][0]["params"] == [0]
    for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert a["param_groups"][0][key] == b["param_groups"][0][key]
