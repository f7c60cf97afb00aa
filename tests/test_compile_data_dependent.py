"""Values an op computes from the data, which a compiled step must take from each call, not the first."""
import numpy as np

import autograd as ag
import nn
import optim


def test_cross_entropy_mean_over_a_changing_number_of_ignored_rows():
    # 'mean' divides by the weight of the rows that count: it changes with the ignored targets
    results = []
    for compiled in (False, True):
        ag.manual_seed(0)
        model = nn.Linear(5, 4)
        optimizer = optim.SGD(model.parameters(), lr=0.5)

        def step(x, y):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y, ignore_index=-1)
            loss.backward()
            optimizer.step()
            return loss
        run = ag.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        losses = []
        for ignored in range(1, 6):
            y = rng.integers(0, 4, 8)
            y[:ignored] = -1
            losses.append(run(ag.tensor(rng.standard_normal((8, 5)).astype(np.float32)), ag.tensor(y)).item())
        results.append((losses, model.weight.detach().numpy().copy(), getattr(run, "replays", None)))
    (eager_losses, eager_weight, _), (losses, weight, replays) = results
    assert replays == 4
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    np.testing.assert_allclose(weight, eager_weight, rtol=1e-5, atol=1e-7)


def test_a_step_whose_guards_keep_changing_stops_capturing():
    import pytest
    compiled = ag.compile(lambda x, n: x * n, max_programs=3)
    x = ag.ones(2)
    for n in range(3):
        assert compiled(x, n).tolist() == [float(n)] * 2
    with pytest.warns(RuntimeWarning, match="3 programs captured"):
        assert compiled(x, 3).tolist() == [3.0, 3.0]
    assert compiled(x, 4).tolist() == [4.0, 4.0]  # eager, warned once
    assert compiled(x, 1).tolist() == [1.0, 1.0]  # a program it has still replays
    assert (compiled.replays, compiled.eager_calls) == (1, 2)


def test_detect_anomaly_runs_the_step_eagerly():
    compiled = ag.compile(lambda x: (x * 2).sum())
    x = ag.ones(3, requires_grad=True)
    compiled(x)
    with ag.detect_anomaly():
        assert compiled(x).item() == 6.0
    assert compiled.eager_calls == 1
