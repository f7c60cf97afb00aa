"""Draw a backprop graph with Graphviz: ``draw_graph(root)`` for Tensor and Scalar graphs.

    >>> import autograd as ag
    >>> x, w = ag.Scalar(2.0, label="x"), ag.Scalar(-3.0, label="w", param=True)
    >>> y = (x * w).tanh(); y.label = "y"
    >>> y.backward()
    >>> dot = ag.draw_graph(y)          # a graphviz.Digraph: displays inline in Jupyter
    >>> dot.render("y", format="svg")   # writes y.svg (needs Graphviz's `dot`)  # doctest: +SKIP

One box per value (its name, shape and dtype for tensors, a preview of its data and of its gradient) and
one small ellipse per op, drawn micrograd-style from inputs to output. Inputs, parameters (instances of a
class named ``Parameter``, or ``Scalar(..., param=True)``), intermediate values and the output have their
own colours, explained in a legend. Graphviz names the vertices by their place in the graph (counted from
the output), so the same graph gives the same DOT text and the same SVG on every run.

For a Tensor graph only what the graph keeps is known about an intermediate value: its shape and dtype
always, its data when an op saved it for backward (before backward frees it), its gradient only after
``retain_grad()`` (the backward walk passes intermediate gradients on and drops them). Leaves,
parameters and the output show everything. ``autograd.backward_steps`` draws every gradient as backward
computes it.

Values computed inside a module (``fc1``, ``blocks.0.attn``) are drawn inside a box named after it: a
parameter's dotted name (``blocks.0.attn.q_proj.weight``, as ``nn.Module`` names them) says which
module it belongs to, and an op belongs to the module of the parameters it reads, or, reading none, to
the module its inputs share. ``max_nodes`` bounds the drawing: past it whole modules are folded into one
box each (the ones farthest from the output first), then the values farthest from the output are left
out, and the caption says what was folded and cut.

This module builds the drawing without Graphviz's programs; rendering (``.render``, ``.pipe``, Jupyter's
display) needs Graphviz's ``dot`` and raises :class:`GraphvizNotInstalledError` saying how to install it.
The course's example drawings and their command line are in :mod:`autograd.drawings`.
"""
import heapq
import html
import math

import graphviz
import numpy as np

from . import Scalar, Tensor
from .engine import topological_order

__all__ = ["draw_graph", "build_drawing", "DrawOptions", "GraphDrawing", "GraphvizNotInstalledError",
           "INSTALL_HINT", "COLORS", "KIND_NAMES", "format_number", "preview_lines", "module_of"]

INSTALL_HINT = ("Rendering needs Graphviz's `dot` program, which is not installed or not on PATH (the "
                "Python package `graphviz` only writes the DOT text). Install the Graphviz system package: "
                "Debian/Ubuntu `sudo apt-get install graphviz` (or `make setup` in the numbagrad "
                "repository), Fedora `sudo dnf install graphviz`, macOS `brew install graphviz`, conda "
                "`conda install -c conda-forge graphviz`, Windows `winget install graphviz`. "
                "The drawing itself is built: its DOT text is `.source`.")

COLORS = {
    "input": "#cfe3ff",      # a leaf that requires grad: data fed in
    "parameter": "#ffe08a",  # a learnable leaf (nn.Parameter, Scalar(param=True))
    "value": "#ffffff",      # an intermediate result
    "output": "#c8efc8",     # the root the drawing starts from
    "constant": "#eadcf5",   # a number used in a Scalar expression (x * 2: the 2)
    "op": "#e8e8e8",
    "cut": "#fde2e2",
    "module": "#f4f4f4",     # the box of a module's values; a folded module
    "highlight": "#ff5a5a",  # step-by-step: the vertex being processed and the edges it feeds
}
KIND_NAMES = {"input": "input (leaf)", "parameter": "parameter (leaf)", "constant": "constant",
              "value": "intermediate value", "output": "output"}
_GREY = "#888888"


class GraphvizNotInstalledError(graphviz.ExecutableNotFound):
    """Rendering was asked for but Graphviz's ``dot`` is missing: the message says what to install."""

    def __init__(self, message=INSTALL_HINT):
        RuntimeError.__init__(self, message)


class GraphDrawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering errors say what to install. ``cut`` is how many values of
    the graph are not drawn as boxes of their own (folded into a module's box or left out: 0 when the
    drawing is complete); ``folded`` the names of the modules drawn folded."""

    cut = 0
    folded = ()
    drawn = 0  # the values drawn as boxes of their own

    def __repr__(self):
        # no id(): a notebook saved with this drawing's text form stays the same on every run
        folded = f", {len(self.folded)} modules folded" if self.folded else ""
        return f"<GraphDrawing: {self.drawn} values drawn, {self.cut} not drawn on their own{folded}>"

    def pipe(self, *args, **kwargs):
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotInstalledError() from None

    def render(self, *args, **kwargs):
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotInstalledError() from None

    def view(self, *args, **kwargs):
        try:
            return super().view(*args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotInstalledError() from None


def draw_graph(root, show_data=True, show_grad=True, rankdir="LR", *, show_shape=True, show_dtype=True,
               max_nodes=150, max_elements=12, precision=4, legend=True, title=None, group_modules=True,
               module=None):
    """Draw the graph that produced ``root`` (a Tensor or a Scalar); returns a ``graphviz.Digraph``.

    ``show_data``/``show_grad``: preview values and gradients (tensors of at most ``max_elements``
    elements in full, larger ones as shape and mean/std/min/max); ``show_shape``/``show_dtype``: for
    tensors; ``rankdir``: ``"LR"`` (inputs left, output right), ``"TB"``, ``"RL"`` or ``"BT"``;
    ``max_nodes``: draw at most this many values, folding whole modules first, and say what was folded
    and cut; ``precision``: significant digits; ``legend``: explain the colours; ``title``: a caption;
    ``group_modules``: draw the values of each module (known by its parameters' dotted names) in a box;
    ``module``: the model (an ``nn.Module``) whose ``named_parameters()`` name the boxes, under its
    class name, so that its own parameters and ops get a box too.
    """
    options = DrawOptions(show_data, show_grad, rankdir, show_shape, show_dtype, max_nodes, max_elements,
                          precision, legend, title, group_modules, module)
    return build_drawing(root, options)


class DrawOptions:
    """The options of :func:`draw_graph`, checked once (``autograd.backward_steps`` draws with them)."""

    def __init__(self, show_data=True, show_grad=True, rankdir="LR", show_shape=True, show_dtype=True,
                 max_nodes=150, max_elements=12, precision=4, legend=True, title=None, group_modules=True,
                 module=None):
        if rankdir not in ("LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
        if not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValueError(f"draw_graph: max_nodes must be a positive int, got {max_nodes!r}")
        self.show_data, self.show_grad, self.rankdir = show_data, show_grad, rankdir
        self.show_shape, self.show_dtype, self.max_nodes = show_shape, show_dtype, max_nodes
        self.max_elements, self.precision, self.legend, self.title = max_elements, precision, legend, title
        if module is not None and not callable(getattr(module, "named_parameters", None)):
            raise TypeError(f"draw_graph: module must be a model with named_parameters() (an nn.Module), "
                            f"got {type(module).__name__}")
        self.group_modules, self.module = group_modules, module


# ---------------------------------------------------------------------------- the graph, as values and ops
class _Value:
    """What the drawing knows about one value."""

    __slots__ = ("key", "kind", "name", "shape", "dtype", "data", "grad", "grad_state", "group", "tangent")

    def __init__(self, key, kind, name=None, shape=None, dtype=None, data=None, grad=None, group=None):
        self.key, self.kind, self.name = key, kind, name
        self.shape, self.dtype, self.data, self.grad = shape, dtype, data, grad
        # "final"; "partial" (still being summed) / "unknown" (not reached yet) while stepping;
        # "not kept" (an intermediate gradient the walk passed on and dropped)
        self.grad_state = "final"
        self.group = group  # the dotted name of the module it was computed in, or None
        self.tangent = None  # a Scalar dual number's tangent (forward mode), when it has one


class _Fold:
    """A module drawn as one box: how many values and parameters it holds."""

    def __init__(self, path, values, parameters):
        self.path, self.values, self.parameters = path, values, parameters


class _Model:
    """Values, ops and edges of the drawn part of a graph, with ``id(vertex)`` as keys (a frame of
    ``backward_steps`` looks its vertices up by them); ``order`` gives each drawn key its place from the
    output, which names it in the DOT text."""

    def __init__(self):
        self.values = {}     # id(vertex) -> _Value
        self.ops = {}        # id(vertex) -> op label
        self.edges = []      # (value key, op key, (parent vertex, vertex, index))
        self.vertices = {}   # id(vertex) -> vertex, the drawn ones
        self.order = {}      # id(vertex) -> its place in the walk from the output (0 = the output)
        self.cut_edges = []  # keys of drawn op nodes with an input that was left out
        self.folds = {}      # module path -> _Fold
        self.fold_edges = []  # (from DOT name, to DOT name): edges into and out of folded modules
        self.total = 0
        self.left_out = 0    # values neither drawn nor folded
        self.root_key = None


def _is_parameter(tensor):
    return any(cls.__name__ == "Parameter" for cls in type(tensor).__mro__)


def _walk(root_vertex):
    """Every vertex, in the order of the backward walk (the engine's one traversal): the root first,
    each vertex before the ones it consumes, the leaves last."""
    return topological_order([root_vertex])


def _scalar_model(root, max_nodes):
    model = _Model()
    walk = _walk(root)
    model.total = len(walk)
    drawn = walk[:max_nodes]
    model.left_out = model.total - len(drawn)
    model.root_key = id(root)
    for place, s in enumerate(drawn):
        model.vertices[id(s)] = s
        model.order[id(s)] = place
    for s in drawn:
        if s is root:
            kind = "output"
        elif s.next_edges:
            kind = "value"
        else:
            kind = "parameter" if s.is_param else "constant" if s.is_param is None else "input"
        model.values[id(s)] = _Value(id(s), kind, s.label, data=s.data, grad=s.grad)
        model.values[id(s)].tangent = s.tangent
        if s.next_edges:
            model.ops[id(s)] = s.op
            for index, parent in enumerate(s.next_edges):
                if id(parent) in model.vertices:
                    model.edges.append((id(parent), id(s), (parent, s, index)))
                else:
                    model.cut_edges.append(id(s))
    return model


def _known_outputs(nodes):
    """Tensors of the outputs of ``nodes`` that the graph still holds: saved for backward by a consumer
    or by the op itself (until backward frees them), or retained with ``retain_grad()``."""
    known = {}
    for node in nodes:
        try:
            saved = node.saved_tensors
        except RuntimeError:  # freed by backward, or changed in place since it was saved
            saved = ()
        for tensor in saved:
            if isinstance(tensor, Tensor) and tensor.grad_fn is not None:
                known.setdefault(id(tensor.grad_fn), tensor)
        retained = node.retained() if callable(getattr(node, "retained", None)) else None
        if retained is not None:
            known[id(node)] = retained
    return known


def _as_array(value):
    return None if value is None else np.asarray(value)


def module_of(name):
    """The dotted module path of a parameter's name (``blocks.0.attn.q_proj.weight`` ->
    ``blocks.0.attn.q_proj``), or None for a name without one."""
    if not name or "." not in name:
        return None
    return name.rsplit(".", 1)[0]


def _common_path(paths):
    parts = [p.split(".") for p in paths]
    common = []
    for pieces in zip(*parts):
        if any(piece != pieces[0] for piece in pieces):
            break
        common.append(pieces[0])
    return ".".join(common) or None


def _parent_path(path):
    return path.rsplit(".", 1)[0] if "." in path else None


def _parameter_names(module):
    """{id(parameter): dotted name} of ``module``'s parameters, under its class name (``Net.fc1.weight``),
    so that the module itself gets a box too."""
    root = type(module).__name__
    return {id(param): f"{root}.{name}" for name, param in module.named_parameters()}


def _groups(walk, names=None):
    """{id(vertex): module path} for the vertices computed in (or owned by) a module. A parameter's path
    is its name's (``names[id(parameter)]`` when given); an op reading parameters belongs to the module
    they share; an op reading none to the module its inputs share, except that it leaves a module made
    of parameters alone (the ReLU after ``fc1`` is not part of ``fc1``; the softmax after the input
    projection of an attention module, which also holds its output projection, stays inside it)."""
    groups, owners = {}, set()
    nodes = []
    for vertex in walk:
        if isinstance(vertex, Tensor):
            name = names.get(id(vertex), vertex.name) if names else vertex.name
            path = module_of(name) if _is_parameter(vertex) else None
            if path is not None:
                groups[id(vertex)] = path
                owners.add(path)
        else:
            nodes.append(vertex)
    if not groups:
        return groups
    # modules holding parameters and no module that holds any (Linear, not MultiheadAttention)
    leaves = {path for path in owners if not any(other.startswith(path + ".") for other in owners)}
    nodes.sort(key=lambda node: node.sequence_nr)  # every input before its consumers
    for node in nodes:
        edges = [edge for edge in node.next_edges if edge is not None]
        direct = {groups[id(e)] for e in edges if isinstance(e, Tensor) and id(e) in groups}
        if direct:
            path = _common_path(direct)
        else:
            inputs = {groups.get(id(e)) for e in edges if not isinstance(e, Tensor)}
            if not inputs or None in inputs:
                continue
            path = _common_path(inputs)
            if path is not None and len(inputs) == 1 and path in leaves:
                path = _parent_path(path)
        if path is not None:
            groups[id(node)] = path
    return groups


def _fold(walk, groups, max_nodes):
    """Which modules to fold so at most ``max_nodes`` boxes remain: start from every top-level module
    folded and open them, closest to the output first, while the drawing stays within the bound."""
    members = {}      # path -> keys of the vertices directly in it
    children = {}     # path -> child paths (only paths that hold vertices, with their ancestors)
    first = {}        # path -> the smallest place (closest to the output) of a vertex under it
    for place, vertex in enumerate(walk):
        path = groups.get(id(vertex))
        if path is None:
            continue
        members.setdefault(path, []).append(id(vertex))
        while path is not None:
            first.setdefault(path, place)
            parent = _parent_path(path)
            if parent is not None:
                children.setdefault(parent, set()).add(path)
            path = parent
    tops = sorted({p for p in first if _parent_path(p) is None}, key=first.get)
    ungrouped = sum(1 for v in walk if id(v) not in groups)
    boxes = ungrouped + len(tops)
    folded = set(tops)
    queue = [(first[p], p) for p in tops]
    heapq.heapify(queue)
    while queue:
        _, path = heapq.heappop(queue)
        inside = children.get(path, set())
        opened = boxes - 1 + len(members.get(path, ())) + len(inside)
        if opened > max_nodes:
            continue
        boxes = opened
        folded.discard(path)
        folded.update(inside)
        for child in inside:
            heapq.heappush(queue, (first[child], child))
    return folded


def _folded_path(path, folded):
    """The outermost folded module containing ``path`` (or None when it is drawn open)."""
    found = None
    while path is not None:
        if path in folded:
            found = path
        path = _parent_path(path)
    return found


def _tensor_model(root, options):
    model = _Model()
    root_vertex = root.grad_fn if root.grad_fn is not None else root
    walk = _walk(root_vertex)
    model.total = len(walk)
    model.root_key = id(root_vertex)
    names = _parameter_names(options.module) if options.module is not None else None
    groups = _groups(walk, names) if options.group_modules else {}
    groups.pop(id(root_vertex), None)  # the output is drawn on its own, never folded away
    folded = _fold(walk, groups, options.max_nodes) if groups and len(walk) > options.max_nodes else set()
    fold_of = {}
    if folded:
        for vertex in walk:
            path = _folded_path(groups.get(id(vertex)), folded)
            if path is not None:
                fold_of[id(vertex)] = path
    # what is left after folding, closest to the output first, within max_nodes boxes
    drawn, boxes, seen_folds = [], 0, set()
    for vertex in walk:
        path = fold_of.get(id(vertex))
        if path is None:
            if boxes < options.max_nodes:
                drawn.append(vertex)
                boxes += 1
        elif path not in seen_folds and boxes < options.max_nodes:
            seen_folds.add(path)
            boxes += 1
    for vertex in drawn:
        model.vertices[id(vertex)] = vertex
    for place, vertex in enumerate(walk):
        if id(vertex) in model.vertices:
            model.order[id(vertex)] = place
    counts = {}  # folded module -> [values, parameters]
    for vertex in walk:
        path = fold_of.get(id(vertex))
        if path in seen_folds:
            count = counts.setdefault(path, [0, 0])
            count[0] += 1
            count[1] += isinstance(vertex, Tensor)
    model.left_out = model.total - len(drawn) - sum(values for values, _ in counts.values())
    for path in sorted(counts):
        model.folds[path] = _Fold(path, *counts[path])

    nodes = [v for v in drawn if not isinstance(v, Tensor)]
    known = _known_outputs(nodes)
    known[id(root_vertex)] = root
    meta = {id(root_vertex): (root.shape, root.dtype)}
    for node in nodes:
        for edge, m in zip(node.next_edges, node.input_meta):
            if edge is not None and m is not None:
                meta.setdefault(id(edge), m)
    fold_names = {path: f"m{i}" for i, path in enumerate(sorted(model.folds))}
    fold_edges = set()
    for vertex in drawn:
        key = id(vertex)
        group = groups.get(key)
        if not isinstance(vertex, Tensor):
            tensor = known.get(key)
            shape, dtype = meta.get(key, (None, None))
            grad = tensor.grad if tensor is not None and (tensor is root or tensor.retains_grad) else None
            value = _Value(key, "output" if key == model.root_key else "value",
                           tensor.name if tensor is not None else None, shape, dtype, _as_array(tensor),
                           _as_array(grad), group)
            if grad is None:
                value.grad_state = "not kept"
            model.values[key] = value
            model.ops[key] = vertex.name()
            for index, edge in enumerate(vertex.next_edges):
                if edge is None:
                    continue
                if id(edge) in model.vertices:
                    model.edges.append((id(edge), key, (edge, vertex, index)))
                elif id(edge) in fold_of and fold_of[id(edge)] in fold_names:
                    fold_edges.add((fold_names[fold_of[id(edge)]], f"o{model.order[key]}"))
                else:
                    model.cut_edges.append(key)
        else:  # a leaf tensor
            kind = "output" if key == model.root_key else "parameter" if _is_parameter(vertex) else "input"
            model.values[key] = _Value(key, kind, vertex.name, vertex.shape, vertex.dtype, _as_array(vertex),
                                       _as_array(vertex.grad), group)
    if fold_names:  # edges out of drawn values into folded modules
        for vertex in walk:
            path = fold_of.get(id(vertex))
            if path not in fold_names or isinstance(vertex, Tensor):
                continue
            for edge in vertex.next_edges:
                if edge is not None and id(edge) in model.vertices:
                    fold_edges.add((f"v{model.order[id(edge)]}", fold_names[path]))
                elif edge is not None and fold_of.get(id(edge)) not in (None, path) \
                        and fold_of[id(edge)] in fold_names:
                    fold_edges.add((fold_names[fold_of[id(edge)]], fold_names[path]))
    model.fold_edges = sorted(fold_edges)
    return model


def build_model(root, options):
    if isinstance(root, Scalar):
        return _scalar_model(root, options.max_nodes)
    if isinstance(root, Tensor):
        if not root.requires_grad:
            raise ValueError("draw_graph: this tensor does not require grad, so no graph recorded how it "
                             "was made; create the inputs with requires_grad=True")
        return _tensor_model(root, options)
    raise TypeError(f"draw_graph: expected a Tensor or a Scalar, got {type(root).__name__}")


# ---------------------------------------------------------------------------- text of the labels
def format_number(x, precision=4):
    """A number as the drawings print it: ``precision`` significant digits, no ``-0``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{precision}g}"
    return "0" if text == "-0" else text


def preview_lines(value, options):
    """Lines showing a number or an array: in full when small, as statistics when large."""
    if isinstance(value, float):
        return [format_number(value, options.precision)]
    array = np.asarray(value)
    if array.ndim == 0:
        return [format_number(array.item(), options.precision)]
    if array.size <= options.max_elements:
        with np.printoptions(precision=options.precision, suppress=False, floatmode="maxprec",
                             linewidth=72):
            return np.array2string(array, separator=", ").splitlines()
    data = array.astype(np.float64, copy=False)
    finite = data[np.isfinite(data)]
    p = options.precision
    if finite.size == 0:
        return [f"{array.size} values, none finite"]
    lines = [f"mean {format_number(finite.mean(), p)}  std {format_number(finite.std(), p)}",
             f"min {format_number(finite.min(), p)}  max {format_number(finite.max(), p)}"]
    if finite.size != data.size:
        lines.append(f"{data.size - finite.size} not finite (nan/inf)")
    return lines


def _cell(lines, bold=False, italic=False, color=None, align="CENTER"):
    body = '<BR ALIGN="LEFT"/>'.join(html.escape(line) for line in lines)
    if align == "LEFT" and len(lines) > 1:
        body += '<BR ALIGN="LEFT"/>'
    if bold:
        body = f"<B>{body}</B>"
    if italic:
        body = f"<I>{body}</I>"
    if color:
        body = f'<FONT COLOR="{color}">{body}</FONT>'
    return f'<TD ALIGN="{align}" BALIGN="LEFT">{body}</TD>'


def _grad_cell(value, options, is_scalar):
    """The gradient's cell; None where a gradient means nothing (a constant) or is not kept."""
    if value.kind == "constant":
        return None  # a number written in the expression: nothing learns it, nothing needs its gradient
    if value.grad_state == "unknown":
        return _cell(["grad ?"], italic=True, color=_GREY)
    if value.grad is None:
        if value.kind == "output" and not is_scalar and value.shape is not None and math.prod(value.shape) == 1:
            return _cell(["grad 1 (the seed)"], color="#b00000")
        return None
    lines = preview_lines(value.grad, options)
    suffix = " (so far)" if value.grad_state == "partial" else ""
    lines = ["grad " + lines[0]] + lines[1:]
    lines[-1] += suffix
    return _cell(lines, bold=value.grad_state == "final" and is_scalar, italic=value.grad_state == "partial",
                 color="#b00000" if value.grad_state == "final" else "#7a4a00",
                 align="LEFT" if len(lines) > 1 else "CENTER")


def _value_label(value, options, is_scalar):
    """An HTML-like label: one row for a Scalar (micrograd's record), one cell per line for a tensor."""
    cells = []
    if value.name:
        cells.append(_cell([value.name], bold=True))
    if not is_scalar:
        head = []
        if options.show_shape and value.shape is not None:
            head.append(str(tuple(value.shape)))
        if options.show_dtype and value.dtype is not None:
            head.append(str(value.dtype))
        if head:
            cells.append(_cell([" ".join(head)], color="#555555"))
    missing = []  # what the graph no longer holds, said once in one short line
    if options.show_data:
        if value.data is not None:
            lines = preview_lines(value.data, options)
            cells.append(_cell(["data " + lines[0]] + lines[1:], align="LEFT" if len(lines) > 1 else "CENTER"))
        elif not is_scalar:
            missing.append("data")
        if value.tangent is not None:  # forward mode: the dual number's tangent beside its value
            cells.append(_cell(["tangent " + preview_lines(value.tangent, options)[0]], color="#1f4e9c"))
    if options.show_grad:
        grad = _grad_cell(value, options, is_scalar)
        if grad is not None:
            cells.append(grad)
        elif value.kind != "constant" and not is_scalar:
            missing.append("grad")
    if missing:
        cells.append(_cell([" · ".join(missing) + " not kept"], italic=True, color=_GREY))
    if not cells:
        cells.append(_cell([" "]))
    if is_scalar:
        rows = "<TR>" + "".join(cells) + "</TR>"
    else:
        rows = "".join(f"<TR>{c}</TR>" for c in cells)
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
            f'BGCOLOR="{COLORS[value.kind]}">{rows}</TABLE>>')


# ---------------------------------------------------------------------------- the drawing
def build_drawing(root, options, frame=None):
    """The Digraph of ``root`` drawn with ``options`` (a :class:`DrawOptions`). ``frame`` (a step of
    ``backward_steps``) overrides gradients through ``frame.apply(model)`` and highlights its vertex
    (``frame.vertex_key``), its caption lines and the edges it feeds (``frame.edge_attrs``)."""
    model = build_model(root, options)
    is_scalar = isinstance(root, Scalar)
    if frame is not None:
        frame.apply(model)
    dot = GraphDrawing(name="backprop_graph", format="svg")
    dot.cut = model.total - len(model.vertices)
    dot.drawn = len(model.vertices)
    dot.folded = tuple(sorted(model.folds))
    dot.attr(rankdir=options.rankdir, bgcolor="white", fontname="Helvetica", nodesep="0.25",
             ranksep="0.35")
    dot.attr("node", fontname="Helvetica", fontsize="11", shape="plain")
    dot.attr("edge", fontname="Helvetica", fontsize="10", color="#555555", arrowsize="0.7")
    caption = []
    if options.title:
        caption.append(options.title)
    if frame is not None:
        caption.extend(getattr(frame, "caption_lines", ()))
    if model.folds:
        folded_values = sum(f.values for f in model.folds.values())
        count = len(model.folds)
        caption.append(f"max_nodes={options.max_nodes}: {count} module{'s' if count > 1 else ''} folded into "
                       f"one box{' each' if count > 1 else ''} ({', '.join(sorted(model.folds))}), "
                       f"{folded_values} values in all")
    if model.left_out:
        caption.append(f"max_nodes={options.max_nodes}: showing the {len(model.vertices)} values closest to "
                       f"the output; {model.left_out} more values and their ops are not drawn")
    if caption:
        dot.attr(label="".join(line.replace("\\", "\\\\") + "\\l" for line in caption), labelloc="t",
                 labeljust="l", fontsize="13")

    clusters = _Clusters(dot, model)
    highlight = getattr(frame, "vertex_key", None) if frame is not None else None
    for key, value in model.values.items():
        place = model.order[key]
        target = clusters.graph_of(value.group)
        attrs = {}
        if key == highlight and key not in model.ops:
            attrs = {"color": COLORS["highlight"], "penwidth": "3", "shape": "box", "style": "rounded",
                     "margin": "0"}
        target.node(f"v{place}", _value_label(value, options, is_scalar), **attrs)
        if key in model.ops:
            op = model.ops[key]
            op_attrs = {"shape": "ellipse", "style": "filled", "fillcolor": COLORS["op"], "fontsize": "10",
                        "margin": "0.02,0.02", "height": "0.3"}
            if key == highlight:
                op_attrs.update(color=COLORS["highlight"], penwidth="3", fillcolor="#ffd0d0")
            target.node(f"o{place}", html.escape(op), **op_attrs)
            dot.edge(f"o{place}", f"v{place}")
    for i, path in enumerate(sorted(model.folds)):
        fold = model.folds[path]
        parameters = f", {fold.parameters} parameters" if fold.parameters else ""
        clusters.graph_of(_parent_path(path)).node(
            f"m{i}", f"{path}\nfolded: {fold.values} values{parameters}", shape="box3d", style="filled",
            fillcolor=COLORS["module"], fontsize="10")
    clusters.close()
    for parent_key, child_key, info in model.edges:
        attrs = frame.edge_attrs(info) if frame is not None else {}
        dot.edge(f"v{model.order[parent_key]}", f"o{model.order[child_key]}", **attrs)
    for tail, head in model.fold_edges:
        dot.edge(tail, head, style="dashed")
    if model.cut_edges:
        dot.node("cut", f"… {model.left_out} more values\n(max_nodes={options.max_nodes})", shape="box",
                 style="dashed,filled", fillcolor=COLORS["cut"], fontsize="10")
        for key in dict.fromkeys(model.cut_edges):
            dot.edge("cut", f"o{model.order[key]}", style="dashed")
    if options.legend:
        notes = []
        if not is_scalar and frame is None and any(v.grad_state == "not kept" and v.kind == "value"
                                                   for v in model.values.values()):
            notes.append("not kept: backward frees what ops saved and passes intermediate gradients on "
                         "without storing them (retain_grad() keeps one)")
        if frame is not None:
            notes.append("grad ?: not reached yet")
        _legend(dot, {v.kind for v in model.values.values()}, frame is not None, notes)
    return dot


class _Clusters:
    """Graphviz clusters for modules, nested like their dotted paths, named by their sorted paths."""

    def __init__(self, dot, model):
        self.dot = dot
        paths = set()
        for value in model.values.values():
            path = value.group
            while path is not None:
                paths.add(path)
                path = _parent_path(path)
        for path in model.folds:
            path = _parent_path(path)
            while path is not None:
                paths.add(path)
                path = _parent_path(path)
        self.names = {path: f"cluster_{i}" for i, path in enumerate(sorted(paths))}
        self.graphs = {}

    def graph_of(self, path):
        if path is None or path not in self.names:
            return self.dot
        if path not in self.graphs:
            graph = graphviz.Digraph(name=self.names[path])
            graph.attr(label=path, labeljust="l", style="rounded,filled", fillcolor=COLORS["module"],
                       color="#bbbbbb", fontsize="10", fontcolor="#555555")
            self.graphs[path] = graph
        return self.graphs[path]

    def close(self):
        """Nest each cluster into its parent's (deepest first) and the outermost into the drawing."""
        for path in list(self.graphs):  # a module holding only modules has no graph yet
            parent = _parent_path(path)
            while parent is not None:
                self.graph_of(parent)
                parent = _parent_path(parent)
        for path in sorted(self.graphs, key=lambda p: (-p.count("."), p)):
            parent = _parent_path(path)
            while parent is not None and parent not in self.names:
                parent = _parent_path(parent)
            self.graph_of(parent).subgraph(self.graphs[path])


def _legend(dot, kinds, steps, notes=()):
    entries = [(COLORS[kind], KIND_NAMES[kind]) for kind in ("input", "parameter", "constant", "value",
                                                                     "output") if kind in kinds]
    entries.append((COLORS["op"], "op"))
    if steps:
        entries.append((COLORS["highlight"], "this step"))
    cells = "".join(f'<TD BGCOLOR="{color}" BORDER="1" WIDTH="12" HEIGHT="12"></TD><TD ALIGN="LEFT">{text}'
                    f'</TD>' for color, text in entries)
    rows = "<TR><TD><B>legend:</B></TD>" + cells + "</TR>"
    span = 1 + 2 * len(entries)
    for note in notes:
        rows += (f'<TR><TD COLSPAN="{span}" ALIGN="LEFT"><I><FONT COLOR="{_GREY}">{html.escape(note)}'
                 f'</FONT></I></TD></TR>')
    dot.node("legend", '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">' + rows
             + "</TABLE>>", shape="plain", fontsize="9")
