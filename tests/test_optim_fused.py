"""The fused form of SGD and Adam/AdamW (``fused=True``: one kernel pass per parameter) against their
foreach form, and the compiled step's use of it."""
import itertools

import numpy as np
import pytest

import autograd as ag
import nn
import optim


def _run(make, fused, shape=(30, 20), steps=4, dtype=np.float32):
    params = [nn.Parameter(ag.tensor(np.random.default_rng(0).standard_normal(s).astype(dtype)))
              for s in (shape, shape[1:])]
    opt = make(params, fused)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        for p in params:
            p.grad = ag.tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt


SGD_CASES = [dict(), dict(momentum=0.9), dict(momentum=0.9, nesterov=True, weight_decay=0.01),
             dict(momentum=0.5, dampening=0.2, maximize=True), dict(momentum=0.8, ema_momentum=True)]


@pytest.mark.parametrize("options", SGD_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sgd_gives_the_foreach_bits(options, dtype):
    make = lambda ps, fused: optim.SGD(ps, lr=0.1, fused=fused, **options)  # noqa: E731
    (a, _), (b, opt) = _run(make, None, dtype=dtype), _run(make, True, dtype=dtype)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    if options.get("momentum"):
        assert all("momentum_buffer" in s for s in opt.state.values())


@pytest.mark.parametrize("amsgrad,weight_decay,decoupled,maximize,inside,beta1",
                         list(itertools.product([False, True], [0.0, 0.1], [False, True], [False, True],
                                                [False, True], [0.9, 0.3])))
def test_fused_adam_gives_the_foreach_bits(amsgrad, weight_decay, decoupled, maximize, inside, beta1):
    def make(ps, fused):
        return optim.Adam(ps, lr=0.01, betas=(beta1, 0.999), amsgrad=amsgrad, weight_decay=weight_decay,
                          decoupled_weight_decay=decoupled, maximize=maximize, eps_inside_sqrt=inside, fused=fused)
    (a, opt_a), (b, opt_b) = _run(make, None), _run(make, True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for state_a, state_b in zip(opt_a.state.values(), opt_b.state.values()):
        assert state_a["step"].item() == state_b["step"].item() == 4
        np.testing.assert_array_equal(state_a["exp_avg_sq"].numpy(), state_b["exp_avg_sq"].numpy())


def test_large_tensors_agree_to_rounding():
    # the foreach form's axpy goes through BLAS for large tensors, which may round differently
    make = lambda ps, fused: optim.SGD(ps, lr=0.01, momentum=0.9, fused=fused)  # noqa: E731
    (a, _), (b, _) = _run(make, None, shape=(300, 200)), _run(make, True, shape=(300, 200))
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_adamw_fused_is_decoupled():
    make = lambda ps, fused: optim.AdamW(ps, lr=0.01, weight_decay=0.1, fused=fused)  # noqa: E731
    (a, _), (b, _) = _run(make, None), _run(make, True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_fused_and_foreach_together_is_refused():
    p = nn.Parameter(ag.zeros(3))
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        optim.Adam([p], fused=True, foreach=True)
    with pytest.raises(TypeError, match="fused must be None, True or False"):
        optim.SGD([p], fused="yes")


def test_fused_true_on_a_non_contiguous_parameter_says_why():
    base = ag.zeros(4, 6)
    p = nn.Parameter(base.t())  # a transposed view: not C-contiguous
    p.grad = ag.ones(6, 4)
    opt = optim.SGD([p], lr=0.1, fused=True)
    if p._data.flags.c_contiguous:
        pytest.fail("the test needs a non-contiguous parameter")
    with pytest.raises(RuntimeError, match="fused=True: every parameter and gradient"):
        opt.step()


def test_fused_sgd_checks_its_lists():
    p = nn.Parameter(ag.zeros(3))
    with pytest.raises(ValueError, match="fused_sgd_: expected one tensor per parameter"):
        ag.fused_sgd_([p], [ag.zeros(3), ag.zeros(3)], None, lr=0.1)
    with pytest.raises(ValueError, match="C-contiguous floating tensor"):
        ag.fused_sgd_([p], [ag.zeros(4)], None, lr=0.1)


def test_a_compiled_step_replays_the_fused_step_and_keeps_the_eager_state():
    def setup():
        ag.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def make_step(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    (m1, o1), (m2, o2) = setup(), setup()
    eager, compiled = make_step(m1, o1), ag.compile(make_step(m2, o2))
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = ag.tensor(rng.standard_normal((5, 6)).astype(np.float32))
        y = ag.tensor(rng.integers(0, 3, 5))
        assert eager(x, y).item() == compiled(x, y).item()
    assert compiled.replays == 3
    assert "Optimizer.step (fused form)" in str(compiled.program)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    assert [s["step"].item() for s in o2.state.values()] == [4.0] * 4
