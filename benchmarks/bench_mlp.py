"""Training step of a 3-layer MLP (784-128-64-10, batch 64), float32: numbagrad vs PyTorch.

This is also where the threading trap is checked: a Numba kernel right after a BLAS matmul must not
wait for BLAS's spinning threads (numbagrad's elementwise kernels are serial for that reason)."""
from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none
from benchmarks.mlp_step import make_batch, make_model, step


def _torch_step(torch, params, x, y, lr=0.1):
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    loss = torch.nn.functional.cross_entropy(h, y)
    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    return loss


def main():
    torch = torch_or_none()
    rows = []
    for batch in (64, 256):
        params = make_model()
        x, y = make_batch(batch)
        ours = timeit_median(lambda: step(params, x, y), repeat=7)
        theirs = float("nan")
        if torch is not None:
            tparams = [torch.from_numpy(p.detach().numpy().copy()).requires_grad_() for p in params]
            tx, ty = torch.from_numpy(x.numpy().copy()), torch.from_numpy(y.numpy().copy())
            theirs = timeit_median(lambda: _torch_step(torch, tparams, tx, ty), repeat=7)
        rows.append([batch, fmt_time(ours), fmt_time(theirs), fmt_ratio(theirs / ours)])
    print_table("3-layer MLP training step 784-128-64-10, float32 (median; torch/ours > 1: we are faster)",
                ["batch", "numbagrad", "torch", "torch/ours"], rows)


if __name__ == "__main__":
    main()
