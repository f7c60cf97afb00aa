"""Compile every kernel ahead of time: ``warm_up(dtypes)``, and ``dispatchers()`` to see what compiled.

Design notes: numba compiles a kernel on its first call per argument types, or loads it from its disk
cache (seconds per kernel the first time on a machine, milliseconds later).  ``warm_up`` calls each
wrapper once on small arrays of each dtype, in the argument types the ops pass, so a first training
step does not stop to compile; ``python -m autograd.warmup`` runs it (``make setup`` does).  Kernels
that a wrapper only takes for large arrays (BLAS axpy) are called at the size that takes them.
"""
import numba
import numpy as np

from . import (conv, elementwise, fused_steps, losses, matmul, normalization_channels, normalization_rows, rows,
               scatter, updates)

_MODULES = (elementwise, rows, losses, matmul, conv, updates, fused_steps, scatter, normalization_rows,
            normalization_channels)


def dispatchers():
    """``{"module.name": dispatcher}`` for every compiled-on-call kernel of the package (the inlined
    scalar helpers compile into their callers and are left out)."""
    found = {}
    for module in _MODULES:
        for name, value in vars(module).items():
            if isinstance(value, numba.core.dispatcher.Dispatcher) and \
                    value.targetoptions.get("inline") != "always":
                found[f"{module.__name__.rsplit('.', 1)[-1]}.{name}"] = value
    return found


def warm_up(dtypes=("float32",)):
    """Compile (or load from numba's disk cache) every kernel for the given dtypes."""
    for dt in dtypes:
        dt = np.dtype(dt)
        x = np.linspace(-3, 3, 12, dtype=dt).reshape(3, 4)
        g = np.ones_like(x)
        for fwd, bwd in (
            (elementwise.sigmoid_forward, elementwise.sigmoid_backward),
            (elementwise.tanh_forward, elementwise.tanh_backward),
            (elementwise.relu_forward, elementwise.relu_backward),
            (rows.softmax_forward, rows.softmax_backward),
            (rows.log_softmax_forward, rows.log_softmax_backward),
        ):
            bwd(g, fwd(x))
        for approx in ("none", "tanh"):
            elementwise.gelu_backward(g, x, approx)
            elementwise.gelu_forward(x, approx)
            derivative = elementwise.gelu_forward(x, approx, with_derivative=True)[1]
            elementwise.gelu_backward_from_derivative(g, derivative)
        rows.logsumexp_lastdim(x)
        wide = np.zeros((1, rows.NARROW_ROWS), dt)  # rows long enough for the per-row float32 kernels
        rows.softmax_forward(wide)
        rows.log_softmax_forward(wide)
        wider = np.zeros((1, rows.WIDE_ROWS), dt)  # and for the ones with the integer-key max
        rows.softmax_forward(wider)
        rows.log_softmax_forward(wider)
        elementwise.bias_relu_(x.copy(), x[0].copy())
        targets = np.array([0, 3, -100])
        logp = rows.log_softmax_forward(x)
        loss_rows, row_weights, _, _ = losses.cross_entropy_rows(logp, targets, None, -100)
        losses.cross_entropy_rows(logp, targets, x[0].copy(), -100)
        losses.cross_entropy_grad(logp, targets, row_weights, 1.0, loss_rows)
        fused_steps.cross_entropy_grad_column_sums(logp, targets, row_weights, 1.0, np.ones((), dt))
        fused_steps.relu_backward_column_sums(g, x)
        in_place = g.copy()
        fused_steps.relu_backward_column_sums(in_place, x, into=in_place)
        fused_steps.scale_shift_relu(x.reshape(1, 3, 4), x[:, 0].copy(), x[:, 1].copy())
        matmul.matmul_numba(x, x.T)
        image = x.reshape(1, 1, 3, 4)
        conv.col2im(conv.im2col(image, 2, 2, 1, 1, 0, 0, 2, 3), image.shape, 2, 2, 1, 1, 0, 0, 2, 3)
        pooled, idx = conv.max_pool2d_forward(image, 2, 2, 1, 1, 0, 0, 2, 3)
        conv.plane_scatter_add(conv.plane_gather(image, idx), idx, image.shape)
        conv.max_pool2d_forward(image, 3, 3, 1, 1, 1, 1, 3, 4)  # the general window kernel (2x2 has its own)
        conv.weight_grad(image[:, :, :2, :3], conv.im2col(image, 2, 2, 1, 1, 0, 0, 2, 3), (1, 1, 2, 2))
        conv._dot(x[0], x[1], dt.type(0))  # called by weight_grad's kernel: compiled only here (see below)
        conv.columns_to_images(x[:1], x[1, :1], 1, 2, 2)
        _warm_up_batch_norm(dt)
        scatter.index_add_rows(x, np.array([0, 2, 0]), (4, 4))  # an embedding's int64 indices
        _warm_up_layer_norm(x)
        row = x[0].copy()  # the row sums the softmax kernels call (see _warm_up_layer_norm)
        rows.row_sum(row)
        rows._row_dot(row, row)
        _warm_up_updates(dt)


def _warm_up_layer_norm(x):
    y, mean, rstd = normalization_rows.layer_norm_forward(x, x[0], x[1], 1, 1e-5)
    normalization_rows.layer_norm_backward(y, x, x[0], mean, rstd, 1)
    # the row sums the kernels call: loaded from the cache with their callers, they compile only here
    row = x[0].copy()
    normalization_rows._squared_deviations(row, 0.0)
    normalization_rows._weighted_sums(row, row, row, 0.0)


def _warm_up_batch_norm(dt):
    k = normalization_channels
    for shape in ((2, 3, 4, 4), (4, 3)):  # blocks long enough for the block sums, and (N, C) rows
        x = np.linspace(-1, 1, int(np.prod(shape)), dtype=dt).reshape(shape)
        mean, var = k.channel_moments(x)
        rstd = 1.0 / np.sqrt(var + 1e-5)
        y = k.normalize(x, mean, rstd, mean)
        sum_g, sum_gx = k.normalize_backward_sums(y, x, mean, rstd)
        k.normalize_backward_input(y, x, mean, rstd, rstd, sum_g, sum_gx)
        k.channel_scale(y, rstd)
        k.channel_sums(y)
    # the block sums the kernels call: loaded from the cache with their callers, they compile only here
    block = np.ones(k._SHORT_BLOCK, dt)
    k._block_sum(block, 0.0)
    k._block_squares(block, 0.0)
    k._block_products(block, block, 0.0, 1.0)


def _warm_up_updates(dt):
    small, other = np.ones(8, dt), np.ones(8, dt)
    scalar = dt.type(0.5)
    updates.axpy_(small, other, scalar)
    large = np.zeros(updates.BLAS_AXPY_MIN, dt)  # from this size axpy_ goes to numpy's BLAS, if found
    updates.axpy_(large, large.copy(), scalar)
    updates.addcmul_(small, other, other, scalar)
    updates.addcdiv_(small, other, other, scalar)
    updates.lerp_(small, other, scalar)
    updates.sqrt(other, small)
    for buffer in (other.copy(), np.empty(0, dt)):  # the fused steps, with and without a buffer
        updates.sgd_step_(small, other, buffer, scalar, scalar, scalar, scalar, False, False, False)
        updates.adam_step_(small, other, other.copy(), other.copy(), buffer, scalar, scalar, scalar, scalar,
                           scalar, scalar, scalar, scalar, False, False, False, False)
