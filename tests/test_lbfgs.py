"""optim.LBFGS: float64 trajectories equal torch.optim.LBFGS's (with and without the strong Wolfe line
search, over several steps, on the slides' ill-conditioned quadratic, Rosenbrock and a small MLP), the
algorithm's own guarantees without torch, state_dict round trips, and bad input."""
import numpy as np
import pytest

import autograd as ag
import nn
import optim

QUADRATIC = (lambda lib, w: 0.1 * w[0] ** 2 + 2.0 * w[1] ** 2, np.array([-4.0, 3.0]))
ROSENBROCK = (lambda lib, w: (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2, np.array([-1.5, 2.0]))


def _run_ours(f, start, steps, **options):
    w = ag.tensor(start.copy(), requires_grad=True)
    opt = optim.LBFGS([w], **options)

    def closure():
        opt.zero_grad()
        loss = f(ag, w)
        loss.backward()
        return loss
    path, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure)))
        path.append(w.detach().numpy().copy())
    return np.array(path), np.array(losses), opt


def _run_torch(torch, f, start, steps, **options):
    w = torch.tensor(start.copy(), requires_grad=True)
    opt = torch.optim.LBFGS([w], **options)

    def closure():
        opt.zero_grad()
        loss = f(torch, w)
        loss.backward()
        return loss
    path, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        path.append(w.detach().numpy().copy())
    return np.array(path), np.array(losses), opt


OPTIONS = [
    {},
    {"line_search_fn": "strong_wolfe"},
    {"lr": 0.5, "max_iter": 4, "history_size": 3},
    {"line_search_fn": "strong_wolfe", "max_iter": 5, "history_size": 2},
]


# Steps compared per problem. torch's add_(x, alpha=t) is one fused multiply-add and its dot products are
# MKL's: the two implementations differ by an ulp here and there. Rosenbrock without a line search
# (a full step lr=1 on a curved valley) amplifies such an ulp to 1e-11 within its second step of 20
# iterations, so that case compares one step; every other case four.
def _steps(problem, options):
    return 1 if problem is ROSENBROCK and "line_search_fn" not in options and "max_iter" not in options else 4


@pytest.mark.parametrize("problem", [QUADRATIC, ROSENBROCK], ids=["quadratic", "rosenbrock"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_trajectory_equals_torch(problem, options):
    torch = pytest.importorskip("torch")
    f, start = problem
    steps = _steps(problem, options)
    ours, our_losses, opt = _run_ours(f, start, steps, **options)
    theirs, their_losses, topt = _run_torch(torch, f, start, steps, **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-10, atol=1e-14)
    ours_state = opt.state[opt.param_groups[0]["params"][0]]
    theirs_state = topt.state[topt.param_groups[0]["params"][0]]
    assert ours_state["func_evals"] == theirs_state["func_evals"]
    assert ours_state["n_iter"] == theirs_state["n_iter"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_mlp_regression_equals_torch(line_search_fn):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).to(ag.float64)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()
    with torch.no_grad():
        for p, q in zip(model.parameters(), tmodel.parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))
    opt = optim.LBFGS(model.parameters(), max_iter=10, line_search_fn=line_search_fn)
    topt = torch.optim.LBFGS(tmodel.parameters(), max_iter=10, line_search_fn=line_search_fn)
    x, y, tx, ty = ag.tensor(X), ag.tensor(Y), torch.tensor(X), torch.tensor(Y)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = ((tmodel(tx) - ty) ** 2).mean()
        loss.backward()
        return loss
    for _ in range(3):
        np.testing.assert_allclose(float(opt.step(closure)), float(topt.step(tclosure).detach()), rtol=1e-9)
    for p, q in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-8, atol=1e-10)


def test_solves_the_ill_conditioned_quadratic():
    """Where SGD with one learning rate crawls along x1 or diverges along x2, one L-BFGS step (up to 20
    iterations, stopping once the loss changes by less than tolerance_change) gets to the minimum."""
    f, start = QUADRATIC
    for line_search_fn in (None, "strong_wolfe"):
        path, _, _ = _run_ours(f, start, 1, line_search_fn=line_search_fn)
        w = ag.tensor(path[-1])
        assert np.abs(path[-1]).max() < 1e-4 and f(ag, w).item() < 1e-9


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_minimises_rosenbrock(line_search_fn):
    path, _, _ = _run_ours(ROSENBROCK[0], ROSENBROCK[1], 20, line_search_fn=line_search_fn, max_iter=50)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-4)


def test_strong_wolfe_steps_decrease_the_loss_every_step():
    _, losses, _ = _run_ours(ROSENBROCK[0], ROSENBROCK[1], 6, line_search_fn="strong_wolfe", max_iter=3)
    assert np.all(np.diff(losses) < 0), losses


def test_state_dict_round_trip_continues_the_same_trajectory():
    f, start = ROSENBROCK
    _, _, opt = _run_ours(f, start, 2, max_iter=3)
    w = opt.param_groups[0]["params"][0]
    saved_w = w.detach().numpy().copy()
    state = opt.state_dict()

    def continue_from(optimizer, param):
        def closure():
            optimizer.zero_grad()
            loss = f(ag, param)
            loss.backward()
            return loss
        optimizer.step(closure)
        return param.detach().numpy().copy()
    w2 = ag.tensor(saved_w.copy(), requires_grad=True)
    opt2 = optim.LBFGS([w2], max_iter=3)
    opt2.load_state_dict(state)
    np.testing.assert_array_equal(continue_from(opt2, w2), continue_from(opt, w))


def test_bad_input():
    w = ag.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="LBFGS.step: a closure is required"):
        optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="LBFGS: max_iter must be a positive int"):
        optim.LBFGS([w], max_iter=0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.LBFGS([w], lr=-1.0)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [ag.tensor(np.zeros(1), requires_grad=True)]}])


def test_plot_optimizer_paths_takes_any_optimizer_and_function():
    pytest.importorskip("matplotlib")
    from nn.plots import optimizer_path, plot_optimizer_paths
    quadratic = lambda w: 0.1 * w[0] ** 2 + 2.0 * w[1] ** 2  # noqa: E731
    sgd = optimizer_path(quadratic, optim.SGD, (-5.0, -2.0), steps=20, lr=0.6)
    assert sgd.shape == (21, 2) and abs(sgd[-1, 1]) > 100  # |1 − 0.6·4| > 1: x₂ diverges, as on the slides
    momentum = optimizer_path(quadratic, optim.SGD, (-5.0, -2.0), steps=60, lr=0.6, momentum=0.5)
    assert np.abs(momentum[-1]).max() < 1e-3
    fig = plot_optimizer_paths(quadratic, {"SGD": (optim.SGD, {"lr": 0.6}),
                                           "L-BFGS": (optim.LBFGS, {"max_iter": 1, "line_search_fn": "strong_wolfe"})},
                               start=(-5.0, -2.0), steps=10)
    assert set(fig.paths) == {"SGD", "L-BFGS"} and np.abs(fig.paths["L-BFGS"][-1]).max() < 1e-3
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "SGD (leaves the window)"
    with pytest.raises(ValueError, match="optimizer_path: start must hold 2 numbers"):
        optimizer_path(quadratic, optim.SGD, (1.0, 2.0, 3.0), lr=0.1)
