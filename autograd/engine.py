"""The backward engine: the chain rule, walked once over the graph, consumers before producers.

A graph is made of *vertices*. Each lists in ``next_edges`` the vertices its gradient goes to: a
:class:`~autograd.function.Node` (what an op records) lists its inputs, a leaf Tensor lists none, a
:class:`~autograd.Scalar` lists its operands. Everything that traverses a graph goes through
:func:`walk`: :func:`backward` (hence ``Tensor.backward``, :func:`grad` and ``Scalar.backward``), the
step-by-step player (which observes :func:`backward`) and the drawings (:func:`topological_order`).

:func:`walk` visits interior vertices newest first, by ``sequence_nr``, the order in which they were
recorded. A vertex is recorded after every vertex it consumes, so when the newest one still pending
comes off the heap, no vertex that could send it a gradient is left: its gradient is complete. Leaves
come last. No recursion (a chain of millions of ops is fine) and no first pass that counts consumers.

:func:`backward` carries the gradients along that walk. At an interior vertex it asks for the
gradients of its inputs (``vertex.input_gradients(grad)``: a Node runs its op's backward and sums each
gradient back to its input's shape) and adds each to what that input has received so far; at a leaf
it accumulates the total into ``.grad``. Backward formulas are Tensor computations: with
``create_graph=False`` they run under ``no_grad``; with ``create_graph=True`` they are recorded, which
is what gives higher-order gradients.
"""
from heapq import heappop, heappush

import numpy as np

from . import fp_errors, grad_mode, tracing
from .tensor import Tensor, make_tensor


def walk(roots):
    """Yield ``(vertex, vertex.next_edges)`` for every vertex reachable from ``roots``, once each, after
    all the vertices that consume it: interior vertices newest first (a max-heap on ``sequence_nr``),
    then the leaves (``sequence_nr`` None)."""
    heap = []  # the sequence numbers of the interior vertices reached and not yet visited, negated
    pending = {}  # those vertices, by sequence number
    leaves = {}  # the leaves reached, in that order (a dict: each once)
    reached = roots
    while True:
        # Place the vertices just reached. A visited vertex is never reached again: every vertex that
        # consumes it was visited before it.
        for vertex in reached:
            if vertex is None:
                continue
            number = vertex.sequence_nr
            if number is None:
                leaves[vertex] = None
            elif number not in pending:
                pending[number] = vertex
                heappush(heap, -number)
        if not heap:
            break
        vertex = pending.pop(-heappop(heap))
        reached = vertex.next_edges
        yield vertex, reached
    for leaf in leaves:
        yield leaf, ()


def topological_order(roots):
    """The vertices reachable from ``roots`` in the order the backward walk visits them."""
    return [vertex for vertex, _ in walk(roots)]


def backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None, observer=None):
    """Propagate ``root_grads`` from the vertices ``roots`` to every vertex they depend on.

    With ``inputs=None`` each leaf accumulates its gradient (``vertex.accumulate_grad``). Otherwise
    only the vertices of ``inputs`` are differentiated: their gradients are returned in a dict and no
    ``.grad`` is touched. ``observer(vertex, grad, input_grads)``, when given, sees every step (the
    step-by-step player). Unless ``retain_graph``, each Node frees its saved tensors once done.
    """
    needed = None if inputs is None else _vertices_leading_to(roots, inputs)
    pending = {}  # vertex -> the sum of the gradients it has received so far
    owned = set()  # the vertices whose pending gradient is an array the walk owns
    captured = {}
    for root, g in zip(roots, root_grads):  # the seeds are the caller's arrays, never the walk's
        pending[root] = g if root not in pending else pending[root] + g
    check_anomaly = grad_mode.is_anomaly_enabled()
    # Backward formulas are recorded only for create_graph. Where they meet inf·0 or 0/0 they give NaN
    # silently, as in PyTorch (detect_anomaly is the tool that reports them).
    recording, numpy_errors = grad_mode.GRAD_ENABLED.set(create_graph), fp_errors.enter(fp_errors.IGNORE_ALL)
    try:
        for vertex, edges in walk(roots):
            grad = pending.pop(vertex, None)
            input_grads = ()
            if grad is not None:
                is_owned = vertex in owned
                if vertex.has_hooks:  # hooks on this gradient (or retain_grad) see it first
                    grad, is_owned = vertex.receive_grad(grad, is_owned, create_graph, inputs is None)
                if inputs is not None and vertex in inputs:
                    captured[vertex] = grad
                if not edges:  # a leaf: its gradient is complete
                    if inputs is None:
                        vertex.accumulate_grad(grad, is_owned, create_graph)
                elif needed is None or any(edge in needed for edge in edges):
                    input_grads = vertex.input_gradients(grad)  # the chain rule at this vertex
            if observer is not None:
                observer(vertex, grad, input_grads)
            for edge, g in zip(edges, input_grads):
                if edge is None or g is None or needed is not None and edge not in needed:
                    continue
                if check_anomaly:
                    _check_finite(vertex, g)
                received = pending.get(edge)
                if received is None:
                    pending[edge] = g
                    if type(g) is Tensor and _made_here(g, grad, is_owned, input_grads, vertex):
                        owned.add(edge)
                else:  # a sum the walk makes is its own array
                    pending[edge] = received + g
                    owned.add(edge)
            if edges and not retain_graph:
                vertex.release()
    finally:
        grad_mode.GRAD_ENABLED.reset(recording)
        fp_errors.leave(numpy_errors)
    return captured


def _made_here(g, incoming, incoming_owned, siblings, node):
    """Whether the walk owns gradient ``g``, which ``node``'s backward returned for one input after
    receiving ``incoming``: then ``g`` can become a leaf's ``.grad`` without a copy. It owns a new
    array that only this input receives, or the incoming gradient passed on to this input alone if it
    owned that. Not a view, not an array given to two inputs (``add`` passes its gradient to both),
    not an array the node kept for itself (a saved or constant array)."""
    if g.requires_grad:
        return False
    data = g._data
    receivers = 0  # how many inputs receive this array (add returns its gradient for both)
    for other in siblings:
        if other is not None and other._data is data:
            receivers += 1
    if receivers > 1:
        return False
    if data is incoming._data:
        return incoming_owned
    if data.base is not None or not data.flags.owndata:
        return False
    for kept in node.saved_arrays:
        if data is kept:
            return False
    return True


def _vertices_leading_to(roots, inputs):
    """The vertices from which some vertex of ``inputs`` can be reached (the rest need no backward)."""
    needed = set(inputs)
    for vertex in reversed(topological_order(roots)):  # producers before consumers
        if any(edge in needed for edge in vertex.next_edges):
            needed.add(vertex)
    return needed


def _check_finite(node, grad):
    data = grad._data
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        kind = "nan" if np.isnan(data).any() else "inf"
        where = "".join(node.forward_stack or ["(the forward stack was not recorded: the op ran before "
                                                "detect_anomaly was enabled)\n"])
        raise RuntimeError(f"Function '{node.name()}' returned {kind} values in its gradient.\n"
                           f"Traceback of the forward call that created this node:\n{where}")


# ---------------------------------------------------------------------- the entry points for Tensors
def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False):
    """``Tensor.backward``: accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

    ``gradient`` is the vector of the vector-Jacobian product and is required when ``self`` has more
    than one element (PyTorch's rule), as is ``retain_graph=True`` to backward twice.
    """
    if not self.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                           "nothing in this computation requires grad (create the inputs with "
                           "requires_grad=True)")
    seed = initial_gradient(self, gradient, "backward")
    backward([vertex_of(self)], [seed], create_graph if retain_graph is None else retain_graph, create_graph)


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
    seeds = [initial_gradient(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    wanted = [vertex_of(t) for t in inputs]
    retain_graph = create_graph if retain_graph is None else retain_graph
    captured = backward([vertex_of(o) for o in outputs], seeds, retain_graph, create_graph, inputs=set(wanted))
    results = tuple(captured.get(vertex) for vertex in wanted)
    if not allow_unused and any(g is None for g in results):
        raise RuntimeError("One of the differentiated Tensors appears to not have been used in the "
                           "graph. Set allow_unused=True if this is the desired behavior.")
    return results


def vertex_of(tensor):
    """The vertex that stands for ``tensor`` in the walk: its grad_fn, or the tensor itself (a leaf)."""
    return tensor.grad_fn if tensor.grad_fn is not None else tensor


def initial_gradient(output, gradient, op):
    """The gradient the walk starts from at ``output``: ``gradient`` checked, or 1 for one element."""
    if gradient is None:
        data = output._data
        if data.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs, but the "
                               f"output has shape {output.shape}; pass gradient= (a tensor of that shape)")
        seed = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
        if tracing.recorder is not None:
            tracing.recorder.fresh(seed, "ones (the seed of backward)")
        return make_tensor(seed)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(np.asarray(gradient, dtype=output.dtype))
    if gradient.shape != output.shape:
        raise RuntimeError(f"{op}: gradient has shape {gradient.shape} but the output has shape "
                           f"{output.shape}")
    return gradient
