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
own colours, explained in a legend. ``max_nodes`` bounds the drawing: past it the values and ops farthest
from the output are left out and a note says how many.

For a Tensor graph only what the graph keeps is known about an intermediate value: its shape and dtype
always, its data when an op saved it for backward (before backward frees it), its gradient only after
``retain_grad()``. Leaves, parameters and the output show everything. ``autograd.backward_steps`` draws
every gradient as backward computes it.

This module builds the drawing without Graphviz's programs; rendering (``.render``, ``.pipe``, Jupyter's
display) needs Graphviz's ``dot`` and raises :class:`GraphvizNotInstalledError` saying how to install it.
Command line: ``python -m autograd.draw --help`` (draws the course's examples, as in the README).
"""
import html
import math
import os

import graphviz
import numpy as np

from .function import Node, _SavedOutput
from .scalar import Scalar
from .tensor import Tensor

__all__ = ["draw_graph", "GraphDrawing", "GraphvizNotInstalledError", "INSTALL_HINT"]

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
    "highlight": "#ff5a5a",  # step-by-step: the vertex being processed and the edges it feeds
}
KIND_NAMES = {"input": "input (leaf)", "parameter": "parameter (leaf)", "constant": "constant",
              "value": "intermediate value", "output": "output"}


class GraphvizNotInstalledError(graphviz.ExecutableNotFound):
    """Rendering was asked for but Graphviz's ``dot`` is missing: the message says what to install."""

    def __init__(self, message=INSTALL_HINT):
        RuntimeError.__init__(self, message)


class GraphDrawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering errors say what to install. ``cut`` is how many vertices
    of the graph ``max_nodes`` left out of the drawing (0 when it is complete)."""

    cut = 0

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
               max_nodes=150, max_elements=12, precision=4, legend=True, title=None):
    """Draw the graph that produced ``root`` (a Tensor or a Scalar); returns a ``graphviz.Digraph``.

    ``show_data``/``show_grad``: preview values and gradients (tensors of at most ``max_elements``
    elements in full, larger ones as shape and mean/std/min/max); ``show_shape``/``show_dtype``: for
    tensors; ``rankdir``: ``"LR"`` (inputs left, output right), ``"TB"``, ``"RL"`` or ``"BT"``;
    ``max_nodes``: draw at most this many values (the ones closest to the output), and say what was
    cut; ``precision``: significant digits; ``legend``: explain the colours; ``title``: a caption.
    """
    options = _Options(show_data, show_grad, rankdir, show_shape, show_dtype, max_nodes, max_elements,
                       precision, legend, title)
    return _draw(root, options)


class _Options:
    def __init__(self, show_data, show_grad, rankdir, show_shape, show_dtype, max_nodes, max_elements,
                 precision, legend, title):
        if rankdir not in ("LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
        if not isinstance(max_nodes, int) or max_nodes < 1:
            raise ValueError(f"draw_graph: max_nodes must be a positive int, got {max_nodes!r}")
        self.show_data, self.show_grad, self.rankdir = show_data, show_grad, rankdir
        self.show_shape, self.show_dtype, self.max_nodes = show_shape, show_dtype, max_nodes
        self.max_elements, self.precision, self.legend, self.title = max_elements, precision, legend, title


# ---------------------------------------------------------------------------- the graph, as values and ops
class _Value:
    """What the drawing knows about one value."""

    __slots__ = ("key", "kind", "name", "shape", "dtype", "data", "grad", "grad_state")

    def __init__(self, key, kind, name=None, shape=None, dtype=None, data=None, grad=None):
        self.key, self.kind, self.name = key, kind, name
        self.shape, self.dtype, self.data, self.grad = shape, dtype, data, grad
        self.grad_state = "final"  # or "partial" (still being summed) / "unknown" (not reached yet)


class _Model:
    """Values, ops and edges of the drawn part of a graph, with the walk's vertices as keys."""

    def __init__(self):
        self.values = {}   # id(vertex) -> _Value
        self.ops = {}      # id(vertex) -> op label
        self.edges = []    # (from key, to key, is value->op edge, (parent vertex, vertex, index) or None)
        self.vertices = {}  # id(vertex) -> vertex, the drawn ones
        self.cut_edges = []  # keys of drawn op nodes with an input that was not drawn
        self.total = 0
        self.root_key = None


def _is_parameter(tensor):
    return any(cls.__name__ == "Parameter" for cls in type(tensor).__mro__)


def _bfs(root_vertex, max_nodes):
    """Vertices closest to the root first (iterative), at most ``max_nodes``; and the total count."""
    seen = {id(root_vertex)}
    queue = [root_vertex]
    head = 0
    while head < len(queue):
        vertex = queue[head]
        head += 1
        for child in vertex.next_edges:
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return queue[:max_nodes], len(queue)


def _scalar_model(root, max_nodes):
    model = _Model()
    drawn, model.total = _bfs(root, max_nodes)
    model.root_key = id(root)
    for s in drawn:
        model.vertices[id(s)] = s
    for s in drawn:
        if s is root:
            kind = "output"
        elif s.next_edges:
            kind = "value"
        else:
            kind = "parameter" if s.is_param else "constant" if s.is_param is None else "input"
        model.values[id(s)] = _Value(id(s), kind, s.label, data=s.data, grad=s.grad)
        if s.next_edges:
            model.ops[id(s)] = s.op
            for index, parent in enumerate(s.next_edges):
                if id(parent) in model.vertices:
                    model.edges.append((id(parent), id(s), (parent, s, index)))
                else:
                    model.cut_edges.append(id(s))
    return model


def _known_outputs(nodes):
    """Tensors (or arrays) of the outputs of ``nodes`` that the graph still holds: saved for backward
    by a consumer or by the op itself, or retained with ``retain_grad()``."""
    known = {}
    for node in nodes:
        for item in node._saved or ():  # None once released
            if isinstance(item, tuple) and isinstance(item[0], Tensor) and item[0].grad_fn is not None:
                known.setdefault(id(item[0].grad_fn), item[0])
            elif isinstance(item, _SavedOutput):
                known.setdefault(id(node), item.data)
        if node.retained is not None:
            tensor = node.retained()
            if tensor is not None:
                known[id(node)] = tensor
    return known


def _as_array(value):
    if value is None:
        return None
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def _tensor_model(root, max_nodes):
    model = _Model()
    root_vertex = root.grad_fn if root.grad_fn is not None else root
    drawn, model.total = _bfs(root_vertex, max_nodes)
    model.root_key = id(root_vertex)
    for v in drawn:
        model.vertices[id(v)] = v
    nodes = [v for v in drawn if type(v) is Node]
    known = _known_outputs(nodes)
    known[id(root_vertex)] = root
    meta = {id(root_vertex): (root.shape, root.dtype)}
    for node in nodes:
        for edge, m in zip(node.next_edges, node.input_meta):
            if edge is not None and m is not None:
                meta.setdefault(id(edge), m)
    for v in drawn:
        key = id(v)
        if type(v) is Node:
            output = known.get(key)
            tensor = output if isinstance(output, Tensor) else None
            shape, dtype = meta.get(key, (None, None))
            grad = tensor.grad if tensor is not None else None
            model.values[key] = _Value(key, "output" if key == model.root_key else "value",
                                       tensor.name if tensor is not None else None, shape, dtype,
                                       _as_array(output), _as_array(grad))
            model.ops[key] = v.name()
            for index, edge in enumerate(v.next_edges):
                if edge is None:
                    continue
                if id(edge) in model.vertices:
                    model.edges.append((id(edge), key, (edge, v, index)))
                else:
                    model.cut_edges.append(key)
        else:  # a leaf tensor
            kind = "output" if key == model.root_key else "parameter" if _is_parameter(v) else "input"
            model.values[key] = _Value(key, kind, v.name, v.shape, v.dtype, v._data, _as_array(v.grad))
    return model


def build_model(root, max_nodes):
    if isinstance(root, Scalar):
        return _scalar_model(root, max_nodes)
    if isinstance(root, Tensor):
        if not root.requires_grad:
            raise ValueError("draw_graph: this tensor does not require grad, so no graph recorded how it "
                             "was made; create the inputs with requires_grad=True")
        return _tensor_model(root, max_nodes)
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


def _preview_lines(value, options):
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
    if options.show_data:
        if value.data is not None:
            lines = _preview_lines(value.data, options)
            cells.append(_cell(["data " + lines[0]] + lines[1:], align="LEFT" if len(lines) > 1 else "CENTER"))
        elif not is_scalar:
            cells.append(_cell(["data not kept"], italic=True, color="#888888"))
    if options.show_grad:
        if value.grad_state == "unknown" or (value.grad is None and not is_scalar):
            cells.append(_cell(["grad ?"], italic=True, color="#888888"))
        else:
            lines = _preview_lines(value.grad, options)
            suffix = " (so far)" if value.grad_state == "partial" else ""
            lines = ["grad " + lines[0]] + lines[1:]
            lines[-1] += suffix
            cells.append(_cell(lines, bold=value.grad_state == "final" and is_scalar,
                               italic=value.grad_state == "partial",
                               color="#b00000" if value.grad_state == "final" else "#7a4a00",
                               align="LEFT" if len(lines) > 1 else "CENTER"))
    if not cells:
        cells.append(_cell([" "]))
    if is_scalar:
        rows = "<TR>" + "".join(cells) + "</TR>"
    else:
        rows = "".join(f"<TR>{c}</TR>" for c in cells)
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
            f'BGCOLOR="{COLORS[value.kind]}">{rows}</TABLE>>')


# ---------------------------------------------------------------------------- the drawing
def _draw(root, options, frame=None):
    """Build the Digraph. ``frame`` (from ``backward_steps``) overrides gradients and highlights a step."""
    model = build_model(root, options.max_nodes)
    is_scalar = isinstance(root, Scalar)
    if frame is not None:
        frame.apply(model)
    dot = GraphDrawing(name="backprop_graph", format="svg")
    dot.cut = model.total - len(model.vertices)
    dot.attr(rankdir=options.rankdir, bgcolor="white", fontname="Helvetica", nodesep="0.25",
             ranksep="0.35")
    dot.attr("node", fontname="Helvetica", fontsize="11", shape="plain")
    dot.attr("edge", fontname="Helvetica", fontsize="10", color="#555555", arrowsize="0.7")
    caption = []
    if options.title:
        caption.append(options.title)
    if frame is not None:
        caption.extend(frame.caption_lines)
    if dot.cut:
        caption.append(f"max_nodes={options.max_nodes}: showing the {len(model.vertices)} values closest to "
                       f"the output; {dot.cut} more values and their ops are not drawn")
    if caption:
        dot.attr(label="".join(line.replace("\\", "\\\\") + "\\l" for line in caption), labelloc="t",
                 labeljust="l", fontsize="13")

    highlight = frame.vertex_key if frame is not None else None
    for key, value in model.values.items():
        attrs = {}
        if key == highlight and key not in model.ops:
            attrs = {"color": COLORS["highlight"], "penwidth": "3", "shape": "box", "style": "rounded",
                     "margin": "0"}
        dot.node(f"v{key}", _value_label(value, options, is_scalar), **attrs)
        if key in model.ops:
            op = model.ops[key]
            op_attrs = {"shape": "ellipse", "style": "filled", "fillcolor": COLORS["op"], "fontsize": "10",
                        "margin": "0.02,0.02", "height": "0.3"}
            if key == highlight:
                op_attrs.update(color=COLORS["highlight"], penwidth="3", fillcolor="#ffd0d0")
            dot.node(f"o{key}", html.escape(op), **op_attrs)
            dot.edge(f"o{key}", f"v{key}")
    for parent_key, child_key, info in model.edges:
        attrs = frame.edge_attrs(info) if frame is not None else {}
        dot.edge(f"v{parent_key}", f"o{child_key}", **attrs)
    if model.cut_edges:
        dot.node("cut", f"… {dot.cut} more values\n(max_nodes={options.max_nodes})", shape="box",
                 style="dashed,filled", fillcolor=COLORS["cut"], fontsize="10")
        for key in dict.fromkeys(model.cut_edges):
            dot.edge("cut", f"o{key}", style="dashed")
    if options.legend:
        _legend(dot, {v.kind for v in model.values.values()}, frame is not None)
    return dot


def _legend(dot, kinds, steps):
    entries = [(COLORS[kind], KIND_NAMES[kind]) for kind in ("input", "parameter", "constant", "value",
                                                                     "output") if kind in kinds]
    entries.append((COLORS["op"], "op"))
    if steps:
        entries.append((COLORS["highlight"], "this step"))
    cells = "".join(f'<TD BGCOLOR="{color}" BORDER="1" WIDTH="12" HEIGHT="12"></TD><TD ALIGN="LEFT">{text}'
                    f'</TD>' for color, text in entries)
    dot.node("legend", '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1"><TR>'
             '<TD><B>legend:</B></TD>' + cells + "</TR></TABLE>>", shape="plain", fontsize="9")


# ---------------------------------------------------------------------------- command line
EXAMPLES = ("neuron", "mlp", "tensor-mlp")


def example_graph(name, backward=True):
    """The graphs of the README and the notebook: the course's neuron, a tiny MLP (Scalars), and the
    same MLP in Tensors. Returns the root (after backward unless ``backward=False``)."""
    from .scalar import Scalar
    if name == "neuron":
        # h = tanh(w1·x1 + w2·x2 + b), the perceptron of the course's slides, with micrograd's numbers
        x1, x2 = Scalar(2.0, label="x1"), Scalar(0.0, label="x2")
        w1, w2 = Scalar(-3.0, label="w1", param=True), Scalar(1.0, label="w2", param=True)
        b = Scalar(6.8813735870195432, label="b", param=True)
        x1w1 = x1 * w1
        x1w1.label = "x1·w1"
        x2w2 = x2 * w2
        x2w2.label = "x2·w2"
        z = x1w1 + x2w2 + b
        z.label = "z"
        h = z.tanh()
        h.label = "h"
        if backward:
            h.backward()
        return h
    if name in ("mlp", "tensor-mlp"):
        x, y, params = _mlp_numbers()
        if name == "mlp":
            root = _scalar_mlp(x, y, params)
        else:
            root = _tensor_mlp(x, y, params)
        if backward:
            root.backward()
        return root
    raise ValueError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")


def _mlp_numbers():
    """x ∈ R², target y, and a 2-2-1 network's weights (fixed, so drawings and tests are reproducible)."""
    x = [1.0, -2.0]
    y = 1.0
    params = {"W1": [[0.5, -0.3], [0.8, 0.2]], "b1": [0.1, -0.1], "W2": [[1.2, -0.7]], "b2": [0.05]}
    return x, y, params


def _scalar_mlp(x, y, params):
    """J = ½(σ(W2·σ(W1·x + b1) + b2) - y)² written out in Scalars."""
    from .scalar import Scalar
    xs = [Scalar(v, label=f"x{i + 1}") for i, v in enumerate(x)]
    a = xs
    for layer in (1, 2):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        out = []
        for i, (row, bias) in enumerate(zip(W, b)):
            z = Scalar(bias, label=f"b{layer}[{i + 1}]", param=True)
            for j, (w, inp) in enumerate(zip(row, a)):
                z = z + Scalar(w, label=f"W{layer}[{i + 1},{j + 1}]", param=True) * inp
            z.label = f"z{layer + 1}[{i + 1}]"
            act = z.sigmoid()
            act.label = f"a{layer + 1}[{i + 1}]"
            out.append(act)
        a = out
    diff = a[0] - y
    loss = 0.5 * diff ** 2
    loss.label = "J"
    return loss


def _tensor_mlp(x, y, params):
    """The same network as :func:`_scalar_mlp` in Tensors (parameters named like nn.Linear's)."""
    from .tensor import Tensor
    named = {}
    for key, value in params.items():
        t = Tensor(value, requires_grad=True, dtype="float64")
        t.name = key
        named[key] = t
    xt = Tensor([x], dtype="float64")
    h = (xt @ named["W1"].T + named["b1"]).sigmoid()
    h.name = "a2"
    out = (h @ named["W2"].T + named["b2"]).sigmoid()
    out.name = "a3"
    loss = 0.5 * ((out - y) ** 2).sum()
    loss.name = "J"
    return loss


def main(argv=None):
    import argparse
    from autograd.backprop_steps import backward_steps
    from autograd.draw import draw_graph as draw  # the package's module, not this __main__ copy
    parser = argparse.ArgumentParser(prog="python -m autograd.draw",
                                     description="Draw one of numbagrad's example backprop graphs.")
    parser.add_argument("example", choices=EXAMPLES)
    parser.add_argument("-o", "--output", required=True, help="file to write: .svg, .png or .pdf")
    parser.add_argument("--steps", help="also write the backward pass step by step: .svg (animated) or .html")
    parser.add_argument("--rankdir", default="LR", choices=("LR", "TB", "RL", "BT"))
    args = parser.parse_args(argv)
    root = example_graph(args.example)
    stem, extension = os.path.splitext(args.output)
    draw(root, rankdir=args.rankdir).render(stem, format=extension.lstrip(".") or "svg", cleanup=True)
    print(f"wrote {args.output}")
    if args.steps:
        backward_steps(example_graph(args.example, backward=False)).save(args.steps)
        print(f"wrote {args.steps}")


if __name__ == "__main__":
    main()
