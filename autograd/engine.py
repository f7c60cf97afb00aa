"""The backward engine: one iterative walk of the graph, consumers before producers.

``Tensor.backward`` and ``autograd.grad`` both call :func:`run_backward`. The walk

1. keeps the Nodes that have received a gradient in a max-heap on their ``sequence_nr`` (the order in
   which they were recorded). A Node is recorded after every Node it consumes, so the newest pending
   Node has no consumer left to hear from: its incoming gradient is complete (summed over every
   consumer) when it comes off the heap. No recursion, and no first pass that counts dependencies;
2. runs that Node's backward and reduces each gradient it returns to the shape of the input it belongs
   to (broadcasting is undone here, once, instead of in every op) and casts it to that input's dtype;
3. accumulates into each leaf once, after the Nodes, with the leaf's total gradient.

Backward formulas are Tensor computations: with ``create_graph=False`` they run under ``no_grad``;
with ``create_graph=True`` they are recorded, which is what gives higher-order gradients.

:func:`topological_order` orders all the vertices of a graph at once (Kahn's algorithm over a small
protocol, minitorch's ``Variable``: a vertex lists where its gradient goes in ``next_edges``, a leaf
Tensor none), for Scalars and Tensors alike: drawings, the step-by-step player and ``autograd.grad``'s
pruning use it. ``Scalar.backward`` runs a specialised walk over its own slots (autograd/scalar.py, in
that order, without dicts); :func:`backpropagate` is the plain reference form of that walk (the chain
rule over :func:`topological_order`), against which the tests check it.
"""
import sys
from heapq import heappop, heappush

import numpy as np

from . import buffer_pool, fp_errors, grad_mode
from .function import Node
from .ops.shape import SumToShape
from .tensor import Tensor, _initial_gradient, make_tensor


def _children(vertex):
    return vertex.next_edges  # every vertex has them: a Node its inputs, a leaf Tensor none, a Scalar its inputs


def topological_order(roots):
    """Vertices reachable from ``roots``, each after every vertex that consumes it.

    Kahn's algorithm with explicit stacks (no recursion): count the edges reaching each vertex, then
    emit a vertex once all of its consumers have been emitted. Vertices are Nodes, leaf Tensors (no
    edges) and Scalars, each listing where its gradient goes in ``next_edges``.
    """
    if len(roots) == 1:
        starts = [roots[0]]
        consumers = {starts[0]: 0}
    else:
        consumers = dict.fromkeys(roots, 0)
        starts = list(consumers)
    stack = starts[:]
    while stack:
        vertex = stack.pop()
        for child in vertex.next_edges:
            if child is not None:
                count = consumers.get(child)
                if count is None:
                    consumers[child] = 1
                    stack.append(child)
                else:
                    consumers[child] = count + 1
    order = []
    ready = starts if len(starts) == 1 else [root for root in starts if consumers[root] == 0]
    while ready:
        vertex = ready.pop()
        order.append(vertex)
        for child in vertex.next_edges:
            if child is not None:
                count = consumers[child] - 1
                consumers[child] = count
                if count == 0:
                    ready.append(child)
    return order


def backpropagate(root, gradient=1.0):
    """The walk for vertices that carry their own gradient (``Scalar``): seed ``root.grad`` with
    ``gradient``, then, consumers before producers, ``parent.grad += local × vertex.grad`` along every
    edge. Leaves accumulate over calls; an interior vertex's gradient is recomputed by each call.
    Returns the order walked."""
    order = topological_order([root])
    for vertex in order:
        if vertex.next_edges:
            vertex.grad = 0.0
    root.grad += gradient
    for vertex in order:
        edges = vertex.next_edges
        if len(edges) == 2:  # most ops are binary: unpacking beats a zip loop per vertex
            (a, b), (local_a, local_b), grad = edges, vertex.local_grads, vertex.grad
            a.grad += local_a * grad
            b.grad += local_b * grad
        elif edges:
            grad = vertex.grad
            for parent, local in zip(edges, vertex.local_grads):
                parent.grad += local * grad
    return order


def _vertex_of(tensor):
    return tensor.grad_fn if tensor.grad_fn is not None else tensor


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Propagate ``grad_outputs`` from ``outputs``.

    With ``inputs=None`` (``Tensor.backward``) gradients accumulate into the ``.grad`` of every leaf that
    requires grad. Otherwise (``autograd.grad``) the gradients of ``inputs`` are returned and no
    ``.grad`` is touched.

    Nodes are visited newest first (a max-heap on ``Node.sequence_nr``): every consumer of a node was
    recorded after it, so by the time a node comes off the heap all of its incoming gradient has been
    summed, without a first pass that counts dependencies. Leaves have no edges and are accumulated
    last, each once, with its total gradient.
    """
    if inputs is None and len(outputs) == 1 and outputs[0].grad_fn is not None:  # loss.backward()
        root = outputs[0].grad_fn
        pending = {root: grad_outputs[0]}  # Node -> the sum of the gradients received so far (None while all were None)
        heap = [(-root.sequence_nr, root)]
        leaf_grads = {}  # leaf Tensor -> its summed gradient, in order of first arrival
        wanted = needed = captured = None
    else:
        pending, heap, leaf_grads, wanted, needed, captured = _start_walk(outputs, grad_outputs, inputs)
    pruning = needed is not None
    recording = grad_mode.GRAD_ENABLED.set(create_graph)  # backward formulas record only for create_graph
    check_anomaly = grad_mode.is_anomaly_enabled()
    # Backward formulas meet inf·0 and 0/0 (the derivative of sqrt at 0 times a zero gradient): like
    # PyTorch, they give NaN silently; detect_anomaly is the tool that reports them.
    numpy_errors = fp_errors.enter(fp_errors.IGNORE_ALL)
    try:
        while heap:
            node = heappop(heap)[1]
            grad = pending.pop(node)
            if grad is None:  # every consumer passed None: nothing flows through this node
                if not retain_graph:
                    node.release()
                continue
            if node.tensor_hooks is not None or node.retained is not None or wanted is not None:
                grad = _before_backward(node, grad, create_graph, wanted, needed, captured)
                if grad is None:  # a wanted vertex with nothing needed behind it
                    continue
            input_grads = node.function.backward(node, grad)  # _input_gradients written out (hot path)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            edges = node.next_edges
            if len(input_grads) != len(edges):
                raise _arity_error(node, input_grads)
            for edge, g, meta in zip(edges, input_grads, node.input_meta):
                if edge is None or pruning and edge not in needed:
                    continue
                if g is not None:
                    if type(g) is not Tensor or (g._data.shape, g._data.dtype) != meta:  # (shape, dtype)
                        g = _conformed(g, meta, node)
                    if check_anomaly:
                        _check_finite(node, g)
                if type(edge) is Node:
                    previous = pending.get(edge, _ABSENT)
                    if previous is _ABSENT:
                        pending[edge] = g
                        heappush(heap, (-edge.sequence_nr, edge))
                    elif g is not None:
                        pending[edge] = g if previous is None else previous + g
                elif g is not None:
                    previous = leaf_grads.get(edge)
                    leaf_grads[edge] = g if previous is None else previous + g
            input_grads = g = grad = None  # the leaves' gradients must be referenced by leaf_grads alone (_sole_owner)
            if not retain_graph:
                node._saved = None  # node.release(), without the call
        while leaf_grads:
            leaf, g = leaf_grads.popitem()  # popped, not iterated: the dict must not keep g alive (see _sole_owner)
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g)
            if wanted is None:
                existing = leaf.grad
                if existing is not None and not create_graph and not existing.requires_grad:
                    # _accumulate's usual case (every step after the first), without its call
                    data = existing._data
                    data += g._data  # ndarray.__iadd__: np.add(..., out=) with less dispatch
                    existing._version[0] += 1
                else:
                    _accumulate(leaf, g, create_graph)
            elif leaf in wanted:
                captured[leaf] = g
    finally:
        grad_mode.GRAD_ENABLED.reset(recording)
        fp_errors.leave(numpy_errors)

    if inputs is None:
        return None
    results = []
    for t in inputs:
        g = captured.get(_vertex_of(t))
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been used in the "
                               "graph. Set allow_unused=True if this is the desired behavior.")
        results.append(g)
    return tuple(results)


_ABSENT = object()


def _start_walk(outputs, grad_outputs, inputs):
    """The walk's starting state for several outputs, leaf outputs, or ``autograd.grad``'s ``inputs``:
    the pending gradients and heap of the output nodes, the outputs that are leaves, and (for
    ``inputs``) the wanted vertices, those leading to them, and the dict that captures their gradients."""
    roots = [_vertex_of(t) for t in outputs]
    wanted = needed = captured = None
    if inputs is not None:
        wanted = {_vertex_of(t) for t in inputs}
        needed = _vertices_leading_to(topological_order(roots), wanted)
        captured = {}
    pending = {}
    leaf_grads = {}
    heap = []
    for root, g in zip(roots, grad_outputs):
        if type(root) is Node:
            if root in pending:
                pending[root] = pending[root] + g
            else:
                pending[root] = g
                heappush(heap, (-root.sequence_nr, root))
        else:
            previous = leaf_grads.get(root)
            leaf_grads[root] = g if previous is None else previous + g
    return pending, heap, leaf_grads, wanted, needed, captured


def _before_backward(node, grad, create_graph, wanted, needed, captured):
    """What happens to a node's gradient before its backward when it has hooks, keeps its output's
    ``.grad`` (``retain_grad``) or is one of ``autograd.grad``'s inputs. Returns the gradient to
    propagate, or None when nothing behind the node is needed."""
    if node.tensor_hooks:
        grad = _run_hooks(node.tensor_hooks, grad)
    if node.retained is not None and wanted is None:
        retained = node.retained()
        if retained is not None:
            _accumulate(retained, grad, create_graph)
    if wanted is not None and node in wanted:
        captured[node] = grad
        if not any(e is not None and e in needed for e in node.next_edges):
            return None
    return grad


def _input_gradients(node, grad):
    """The node's backward for the gradient ``grad`` of its output: one gradient (or None) per forward
    argument, as a tuple."""
    input_grads = node.function.backward(node, grad)
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(node.next_edges):
        raise _arity_error(node, input_grads)
    return input_grads


def _arity_error(node, input_grads):
    return RuntimeError(f"{node.name()} returned {len(input_grads)} gradients but its forward "
                        f"took {len(node.next_edges)} arguments")


def _conformed(g, meta, node):
    """``g`` as the gradient of an input with ``meta`` = (shape, dtype): a Tensor, summed over the axes
    that broadcasting added or stretched, in the input's dtype."""
    if not isinstance(g, Tensor):
        g = make_tensor(np.asarray(g), False, None, None)
    data = g._data
    shape, dtype = meta
    if data.shape != shape:
        g = sum_to_shape(g, shape, node)
    if data.dtype != dtype:
        g = g.to(dtype)
    return g


def _propagate(node, grad, pending, check_anomaly):
    """Run one node's backward and add each input's gradient, reduced to that input's shape and dtype,
    to what is pending (keyed by id) for the vertex it goes to: one step of the walk, for the
    step-by-step player (autograd/backprop_steps.py)."""
    for edge, g, meta in zip(node.next_edges, _input_gradients(node, grad), node.input_meta):
        if edge is None or g is None:
            continue
        g = _conformed(g, meta, node)
        if check_anomaly:
            _check_finite(node, g)
        key = id(edge)
        previous = pending.get(key)
        pending[key] = g if previous is None else previous + g


def _vertices_leading_to(order, wanted):
    """The vertices from which some wanted vertex is reachable (the rest need no backward)."""
    needed = set()
    for vertex in reversed(order):  # children before parents
        if vertex in wanted or any(e in needed for e in _children(vertex) if e is not None):
            needed.add(vertex)
    return needed


def _run_hooks(hooks, grad):
    for hook in list(hooks or ()):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def _accumulate(tensor, grad, create_graph):
    """``tensor.grad += grad``, in place unless the graph of the gradient itself is being recorded."""
    if tensor.grad is None:
        if create_graph:
            tensor.grad = grad
        elif _sole_owner(grad, tensor):
            tensor.grad = grad  # a fresh array nobody else can see: no copy needed
        else:
            # A copy: the same gradient array may be handed to several inputs (add passes it through),
            # and an in-place change of one .grad (clipping, accumulation) must not reach the others.
            data = grad._data
            if data.nbytes < buffer_pool.MIN_BYTES and data.dtype == tensor._data.dtype:
                data = data.copy()  # one C call: small arrays are not pooled
            else:
                data = buffer_pool.empty(data.shape, tensor.dtype)
                np.copyto(data, grad._data)
            tensor.grad = make_tensor(data, False, None, None)
    elif create_graph or tensor.grad.requires_grad:
        tensor.grad = tensor.grad + grad
    else:
        np.add(tensor.grad._data, grad._data, out=tensor.grad._data)
        tensor.grad._version[0] += 1


def _reference_counts(grad):
    return _getrefcount(grad), _getrefcount(grad._data)


def _calibrate_sole_owner():
    """The reference counts of a gradient that only the backward walk holds, as :func:`_sole_owner`
    sees them (measured through the same call chain, so an interpreter that counts differently
    stays safe: it can only make the check stricter)."""
    if _getrefcount is None:
        return -1, -1
    grad = make_tensor(np.empty(1), False, None, None)  # run_backward's local
    return _calibration_accumulate(grad)


def _calibration_accumulate(grad):  # stands for _accumulate
    return _calibration_sole_owner(grad)


def _calibration_sole_owner(grad):  # stands for _sole_owner, with its local ``data``
    data = grad._data
    return _reference_counts(grad) if data is not None else None


def _sole_owner(grad, tensor):
    """True when ``grad`` (its Tensor and its array) is referenced by nothing but the walk's own
    variables, owns its memory, and has the layout ``tensor.grad`` should have: then it can become
    ``tensor.grad`` without the copy that protects gradients shared between inputs.
    Gradients stolen this way save a full pass over memory per parameter and step."""
    data = grad._data
    if (data.base is not None or not data.flags.c_contiguous or not data.flags.writeable
            or data.dtype != tensor._data.dtype or grad.requires_grad):
        return False
    tensor_refs, array_refs = _reference_counts(grad)
    # A pooled array (autograd/buffer_pool.py) also has the pool's reference, which never hands out
    # an array that anything else refers to: as .grad it stays this tensor's alone.
    return tensor_refs <= _SOLE_TENSOR_REFS and array_refs - buffer_pool.holds(data) <= _SOLE_ARRAY_REFS


_getrefcount = getattr(sys, "getrefcount", None)
_SOLE_TENSOR_REFS, _SOLE_ARRAY_REFS = _calibrate_sole_owner()


def _check_finite(node, grad):
    data = grad._data
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        kind = "nan" if np.isnan(data).any() else "inf"
        where = "".join(node.forward_stack or ["(the forward stack was not recorded: the op ran before "
                                                "detect_anomaly was enabled)\n"])
        raise RuntimeError(f"Function '{node.name()}' returned {kind} values in its gradient.\n"
                           f"Traceback of the forward call that created this node:\n{where}")


def sum_to_shape(grad, shape, node=None):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if grad.ndim < len(shape) or any(g != s and s != 1 for g, s in zip(grad.shape[grad.ndim - len(shape):], shape)):
        op = node.name() if node is not None else "backward"
        raise RuntimeError(f"{op}: gradient of shape {grad.shape} cannot be reduced to the input's shape {shape}")
    return SumToShape.apply(grad, shape=tuple(shape))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    Like ``torch.autograd.grad``: ``grad_outputs`` is the vector of the vector-Jacobian product (needed
    for non-scalar outputs); ``create_graph=True`` records the computation of the gradients, so they can
    be differentiated again (Hessian-vector products, gradient penalties).
    """
    single_input = isinstance(inputs, Tensor)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and does not have a grad_fn")
    grad_outputs = [_initial_gradient(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    return run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs,
                        allow_unused=allow_unused)
