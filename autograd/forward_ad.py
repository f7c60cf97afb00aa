"""Forward-mode automatic differentiation (``torch.autograd.forward_ad``): dual tensors and their tangents.

``Function.apply`` calls :func:`propagate` after every op while a ``dual_level`` is active."""

#: The forward-AD levels currently entered (innermost last); empty outside ``dual_level``.
active_levels = []


def propagate(function, ctx, args, result):
    """Give ``result`` the tangent ``function.jvp(ctx, *input tangents)`` at every active level."""
    raise NotImplementedError("forward-mode AD is being written (autograd/forward_ad.py)")
