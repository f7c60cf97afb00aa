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
