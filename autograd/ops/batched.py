"""``bmm`` and ``baddbmm``: batched matrix products of 3-D tensors, as PyTorch's (written with matmul,
whose gradient and tangent they reuse)."""
from ._args import as_tensor
from .linalg import matmul


def _check_batches(op, a, b):
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"{op}: batch1 and batch2 must be 3-D tensors, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"(expected (b, n, m) and (b, m, p))")


def bmm(input, mat2):
    """input[i] @ mat2[i] for each i of the batch: (b, n, m) @ (b, m, p) -> (b, n, p), no broadcasting."""
    input, mat2 = as_tensor(input), as_tensor(mat2)
    _check_batches("bmm", input, mat2)
    return matmul(input, mat2)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta·input + alpha·(batch1 @ batch2) batched; with beta = 0 ``input`` is ignored (NaN in it does
    not propagate), as in PyTorch."""
    input, batch1, batch2 = as_tensor(input), as_tensor(batch1), as_tensor(batch2)
    _check_batches("baddbmm", batch1, batch2)
    product = matmul(batch1, batch2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)
