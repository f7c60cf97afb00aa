"""Forward + backward of nn layers, float32: numbagrad vs a hand-written numpy version vs PyTorch.

* MLP layers: Linear(784, 256) → ReLU → Linear(256, 128) → ReLU → Linear(128, 10), loss = Σ outputs.
* Conv block: Conv2d(1, 8, 3) → ReLU → MaxPool2d(2) on a batch of 1×28×28 images, loss = Σ outputs.

The numpy version is what one would write by hand for exactly these layers (im2col by slices + one
BLAS product, a reshape-based 2×2 max pool): the floor for an engine that builds a graph."""
import numpy as np

import autograd as ag
import nn
from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none

MLP_SIZES = (784, 256, 128, 10)


# --------------------------------------------------------------------------------------- MLP
def _ours_mlp(batch):
    ag.manual_seed(0)
    model = nn.MLP(list(MLP_SIZES))
    x = ag.randn(batch, MLP_SIZES[0])

    def step():
        model.zero_grad()
        model(x).sum().backward()
    return step, model


def _numpy_mlp(model, batch):
    ws = [m.weight.detach().numpy().copy() for m in model if isinstance(m, nn.Linear)]
    bs = [m.bias.detach().numpy().copy() for m in model if isinstance(m, nn.Linear)]
    x = np.random.default_rng(0).standard_normal((batch, MLP_SIZES[0])).astype(np.float32)

    def step():
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w.T + b
            if i < len(ws) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        g = np.ones_like(h)
        grads = []
        for i in reversed(range(len(ws))):
            if i < len(ws) - 1:
                g = g * (acts[i + 1] > 0)
            grads.append((g.T @ acts[i], g.sum(0)))
            g = g @ ws[i]
        return grads
    return step


def _torch_mlp(torch, model, batch):
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            lin = torch.nn.Linear(m.in_features, m.out_features)
            lin.load_state_dict({"weight": torch.from_numpy(m.weight.detach().numpy().copy()),
                                 "bias": torch.from_numpy(m.bias.detach().numpy().copy())})
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    tmodel = torch.nn.Sequential(*layers)
    x = torch.randn(batch, MLP_SIZES[0])

    def step():
        tmodel.zero_grad()
        tmodel(x).sum().backward()
    return step


# ------------------------------------------------------------------------------------ conv block
def _ours_conv(batch, channels):
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, channels, 3), nn.ReLU(), nn.MaxPool2d(2))
    x = ag.randn(batch, 1, 28, 28)

    def step():
        model.zero_grad()
        model(x).sum().backward()
    return step, model


def _numpy_conv(model, batch):
    w = model[0].weight.detach().numpy().copy()
    b = model[0].bias.detach().numpy().copy()
    o, c, k, _ = w.shape
    x = np.random.default_rng(0).standard_normal((batch, c, 28, 28)).astype(np.float32)
    oh = 28 - k + 1

    def step():
        cols = np.empty((c, k, k, batch, oh, oh), np.float32)
        for i in range(k):
            for j in range(k):
                cols[:, i, j] = x[:, :, i:i + oh, j:j + oh].transpose(1, 0, 2, 3)
        cols = cols.reshape(c * k * k, -1)
        y = (w.reshape(o, -1) @ cols).reshape(o, batch, oh, oh) + b[:, None, None, None]  # (O, N, oh, ow)
        r = np.maximum(y, 0)
        win = r.reshape(o, batch, oh // 2, 2, oh // 2, 2)
        pooled = win.max(axis=(3, 5))
        # backward of Σ pooled: 1 at each window's maximum (random floats: no ties), through ReLU, to W, b
        g = (win == pooled[:, :, :, None, :, None]).reshape(o, batch, oh, oh)
        g = g * (y > 0)
        gm = g.reshape(o, -1)
        return pooled, (gm @ cols.T).reshape(w.shape), gm.sum(1)
    return step


def _torch_conv(torch, model, batch):
    conv = torch.nn.Conv2d(1, model[0].out_channels, 3)
    conv.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model[0].state_dict().items()})
    tmodel = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    x = torch.randn(batch, 1, 28, 28)

    def step():
        tmodel.zero_grad()
        tmodel(x).sum().backward()
    return step


def main():
    torch = torch_or_none()
    rows = []
    for batch in (64, 256):
        ours, model = _ours_mlp(batch)
        hand = _numpy_mlp(model, batch)
        theirs = _torch_mlp(torch, model, batch) if torch is not None else None
        rows.append(_row(f"MLP {'-'.join(map(str, MLP_SIZES))}, batch {batch}", ours, hand, theirs))
    for batch, channels in ((64, 8), (64, 32)):
        ours, model = _ours_conv(batch, channels)
        hand = _numpy_conv(model, batch)
        theirs = _torch_conv(torch, model, batch) if torch is not None else None
        rows.append(_row(f"Conv2d(1,{channels},3)+ReLU+MaxPool2d(2), batch {batch}, 1x28x28", ours, hand, theirs))
    print_table("nn layers, forward + backward, float32 (median; x/ours > 1: we are faster)",
                ["block", "numbagrad", "numpy by hand", "torch", "numpy/ours", "torch/ours"], rows)


def _row(name, ours, hand, theirs):
    t_ours = timeit_median(ours, repeat=7)
    t_hand = timeit_median(hand, repeat=7)
    t_torch = timeit_median(theirs, repeat=7) if theirs is not None else float("nan")
    return [name, fmt_time(t_ours), fmt_time(t_hand), fmt_time(t_torch), fmt_ratio(t_hand / t_ours),
            fmt_ratio(t_torch / t_ours)]


if __name__ == "__main__":
    main()
