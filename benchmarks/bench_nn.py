"""Forward + backward of nn layers, float32: numbagrad vs a hand-written numpy version vs PyTorch.

* MLP layers: Linear(784, 256) → ReLU → Linear(256, 128) → ReLU → Linear(128, 10), loss = Σ outputs.
* Conv block: Conv2d(1, 8, 3) → ReLU → MaxPool2d(2) on a batch of 1×28×28 images, loss = Σ outputs.

The numpy version is what one would write by hand for exactly these layers (im2col by slices + one
BLAS product, a reshape-based 2×2 max pool): the floor for an engine that builds a graph."""
from benchmarks.cases import cnn_batch, conv_weights, mlp_batch, uniform_weights
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

MLP_SIZES = (784, 256, 128, 10)


# --------------------------------------------------------------------------------------- MLP
def numpy_mlp(batch):
    """cases.mlp_sum_backward written by hand in numpy, on the same weights and inputs."""
    import numpy as np
    arrays = uniform_weights(MLP_SIZES)
    ws, bs = arrays[0::2], arrays[1::2]
    x = mlp_batch(batch, sizes=MLP_SIZES)[0]

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


# ------------------------------------------------------------------------------------ conv block
def numpy_conv(batch, channels):
    """cases.conv_block_sum_backward written by hand in numpy, on the same weights and inputs."""
    import numpy as np
    w, b = conv_weights(channels)
    o, c, k, _ = w.shape
    x = cnn_batch(batch)[0]
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


def main(quick=False):
    notes = {}
    rows = []
    blocks = [(f"MLP {'-'.join(map(str, MLP_SIZES))}, batch {batch}", "mlp_sum_backward",
               {"batch": batch, "sizes": list(MLP_SIZES)}, "benchmarks.bench_nn:numpy_mlp", {"batch": batch})
              for batch in (64, 256)]
    blocks += [(f"Conv2d(1,{channels},3)+ReLU+MaxPool2d(2), batch {batch}, 1x28x28", "conv_block_sum_backward",
                {"batch": batch, "channels": channels}, "benchmarks.bench_nn:numpy_conv",
                {"batch": batch, "channels": channels}) for batch, channels in ((64, 8), (64, 32))]
    with Sides(notes) as sides:
        for name, case, kwargs, hand, hand_kwargs in blocks:
            fns = {"ours": sides.case("numbagrad", case, engine="numbagrad", **kwargs),
                   "numpy": sides.case("numbagrad", hand, **hand_kwargs),
                   "torch": sides.case("torch", case, engine="torch", **kwargs)}
            times = interleaved_times(fns, repeat=3 if quick else 7, settle=SETTLE)
            ours, numpy_t, vs_numpy = paired(times, "ours", "numpy")
            _, torch_t, vs_torch = paired(times, "ours", "torch")
            rows.append([name, fmt_time(ours), fmt_time(numpy_t), fmt_time(torch_t), fmt_ratio(1 / vs_numpy),
                         fmt_ratio(1 / vs_torch)])
    print_table("nn layers, forward + backward, float32 (medians; x/ours = median of paired ratios, > 1: we "
                "are faster)", ["block", "numbagrad", "numpy by hand", "torch", "numpy/ours", "torch/ours"],
                rows, left=1)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
