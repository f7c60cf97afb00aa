"""``autograd.linalg``: the linear-algebra namespace, as ``torch.linalg``."""
from .ops.linalg import inv, matmul, solve  # noqa: F401
from .ops.reduction import norm as vector_norm  # noqa: F401


def norm(input, ord=None, dim=None, keepdim=False):
    """Vector norm of ``ord`` (2 by default) over ``dim``; as ``torch.linalg.vector_norm`` for vectors."""
    return vector_norm(input, 2 if ord is None else ord, dim, keepdim)
