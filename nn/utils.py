"""Gradient utilities: clipping, and flattening parameters to one vector and back."""
import math

import autograd as ag


def _params(parameters):
    if isinstance(parameters, ag.Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint ``norm_type`` norm is at most ``max_norm``.
    Returns the total norm before clipping (a Tensor)."""
    params = [p for p in _params(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not params:
        return ag.tensor(0.0)
    with ag.no_grad():
        grads = [p.grad.detach() for p in params]
        if norm_type == math.inf:
            norms = [g.abs().amax() if g.numel() else ag.tensor(0.0, dtype=g.dtype) for g in grads]
            total = ag.stack([n.to(ag.float64) for n in norms]).amax()
        else:
            norms = [ag.norm(g, norm_type).to(ag.float64) for g in grads]
            total = ag.norm(ag.stack(norms), norm_type)
        if error_if_nonfinite and not bool(ag.isfinite(total)):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                               f"non-finite, so it cannot be clipped. Pass error_if_nonfinite=False to skip "
                               f"this check")
        # min(1, max_norm / (total + 1e-6)) as a tensor, applied to every gradient (PyTorch's form): no
        # value goes through Python, so a compiled step clips by the norm of each call's gradients.
        coef = ag.clamp(float(max_norm) / (total + 1e-6), max=1.0)
        for p in params:
            p.grad.mul_(coef)
    return total.to(params[0].dtype)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [−clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with ag.no_grad():
        for p in _params(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D Tensor (differentiable)."""
    params = _params(parameters)
    if not params:
        return ag.zeros(0)
    return ag.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place, no grad)."""
    if not isinstance(vec, ag.Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D Tensor, got "
                        f"{getattr(vec, 'shape', type(vec).__name__)}")
    params = _params(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vector has {vec.numel()} elements but the parameters "
                         f"hold {total}")
    offset = 0
    with ag.no_grad():
        for p in params:
            n = p.numel()
            p[...] = vec[offset:offset + n].reshape(p.shape)
            offset += n
