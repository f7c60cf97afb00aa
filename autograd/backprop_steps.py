"""Backprop step by step: ``backward_steps(root)`` runs backward one vertex at a time and keeps every step.

    >>> import autograd as ag
    >>> x, w = ag.Scalar(2.0, label="x"), ag.Scalar(-3.0, label="w", param=True)
    >>> y = x * w; y.label = "y"
    >>> steps = ag.backward_steps(y)     # does the backward pass: x.grad, w.grad are filled in
    >>> [s.name for s in steps]
    ['y', 'x', 'w']
    >>> print(steps[0].caption_lines[2])
    w.grad += ∂y/∂w × y.grad = 2 × 1 = 2      [∂(a·b)/∂b = a]

The steps are the real ``backward()``: the engine's walk (``autograd.engine.backward``) runs with an
observer that records each vertex as the walk reaches it, in the walk's order (each vertex after every
vertex that consumes it, so its gradient is complete when its turn comes). A step records the gradient that reached the vertex, what
it passed to each input (for a Scalar, the local derivative ∂out/∂input it multiplied by), and every
gradient known after it. ``steps.draw(i)`` draws the graph at step ``i``: the vertex processed in red,
the gradients final so far in red, the partial sums marked "so far", the ones not reached yet as "?".
In a notebook ``steps`` displays as a player (buttons and a slider); ``steps.save("backprop.html")``
writes the same player as a page, ``steps.save("backprop.svg")`` an animated SVG (it plays in browsers
and in a README), ``steps.render_frames(folder, format="png")`` one file per step.

For Tensor graphs that means each node's ``backward`` under ``no_grad``, the gradients summed to each
input's shape, leaf ``.grad`` accumulated, hooks run. The graph is kept (as with ``retain_graph=True``)
so it can be drawn afterwards.
"""
import os

import numpy as np

from .draw import COLORS, format_number
from .draw import DrawOptions as _Options, build_drawing as _draw, preview_lines as _preview_lines
from . import engine
from .engine import topological_order
from .function import Node
from .scalar import Scalar
from .step_player import animated_svg, frame_caption, player_html, player_page
from .tensor import Tensor

__all__ = ["backward_steps", "BackwardStep", "BackwardSteps"]

#: ∂out/∂input of each Scalar op, as the course writes it, in the order of the op's inputs.
SCALAR_DERIVATIVES = {
    "+": ("∂(a + b)/∂a = 1", "∂(a + b)/∂b = 1"), "-": ("∂(a - b)/∂a = 1", "∂(a - b)/∂b = -1"),
    "*": ("∂(a·b)/∂a = b", "∂(a·b)/∂b = a"), "/": ("∂(a/b)/∂a = 1/b", "∂(a/b)/∂b = -a/b²"),
    "**": ("∂aᵇ/∂a = b·aᵇ⁻¹", "∂aᵇ/∂b = aᵇ·ln a"), "neg": ("∂(-x)/∂x = -1",), "exp": ("∂eˣ/∂x = eˣ",),
    "log": ("∂ln x/∂x = 1/x",), "sqrt": ("∂√x/∂x = 1/(2√x)",), "sin": ("∂sin x/∂x = cos x",),
    "cos": ("∂cos x/∂x = -sin x",), "abs": ("∂|x|/∂x = sign x",), "tanh": ("∂tanh x/∂x = 1 - tanh²x",),
    "sigmoid": ("∂σ(x)/∂x = σ(x)(1 - σ(x))",), "relu": ("∂relu(x)/∂x = 1 if x > 0 else 0",),
    "leaky_relu": ("∂leaky_relu(x)/∂x = 1 if x > 0 else slope",),
    "elu": ("∂elu(x)/∂x = 1 if x > 0 else α·eˣ",), "softplus": ("∂softplus(x)/∂x = σ(x)",),
}
_INFIX = {"+", "-", "*", "/", "**"}


def backward_steps(root, gradient=None, max_steps=400):
    """Run backward from ``root`` (a Scalar or a Tensor) one vertex at a time; return the steps.

    ``gradient`` seeds ``root``'s gradient (1 by default; required for a non-scalar tensor, as in
    ``backward``). ``max_steps`` guards against stepping through a huge graph by mistake.
    """
    if isinstance(root, Scalar):
        return _scalar_steps(root, 1.0 if gradient is None else float(gradient), max_steps)
    if isinstance(root, Tensor):
        return _tensor_steps(root, gradient, max_steps)
    raise TypeError(f"backward_steps: expected a Tensor or a Scalar, got {type(root).__name__}")


def _check_size(order, max_steps):
    if len(order) > max_steps:
        raise ValueError(f"backward_steps: the graph has {len(order)} vertices, more than max_steps="
                         f"{max_steps}; step through a smaller graph, or raise max_steps")


class BackwardStep:
    """One step of the walk: ``vertex`` received ``grad`` and passed ``contributions`` on.

    ``contributions``: ``(input vertex, local derivative or None, gradient passed)`` per input edge
    (the local derivative is a number for Scalars, None for Tensor ops). ``grads``: every gradient
    known after this step, by ``id(vertex)``; ``done``: ids of the vertices processed so far.
    """

    def __init__(self, steps, index, vertex, grad, contributions, grads, done, caption_lines):
        self.steps, self.index, self.vertex, self.grad = steps, index, vertex, grad
        self.contributions, self.grads, self.done = contributions, grads, done
        self.caption_lines = caption_lines

    @property
    def vertex_key(self):
        return id(self.vertex)

    @property
    def name(self):
        return self.steps.names.get(id(self.vertex))

    def draw(self, **options):
        return self.steps.draw(self.index, **options)

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        return self.draw()._repr_mimebundle_(include, exclude, **kwargs)

    def __repr__(self):
        return f"<BackwardStep {self.index + 1}/{len(self.steps)}: {self.caption_lines[0]}>"

    # used by autograd.draw while drawing this step
    def apply(self, model):
        for key, value in model.values.items():
            if key in self.done:
                value.grad_state = "final"
                value.grad = self.grads.get(key, value.grad)
            elif key in self.grads:
                value.grad_state = "partial"
                value.grad = self.grads[key]
            else:
                value.grad_state = "unknown"
            if value.name is None and key in self.steps.names and self.steps.is_scalar:
                value.name = self.steps.names[key]

    def edge_attrs(self, info):
        parent, child, index = info
        if child is not self.vertex:
            return {}
        local, passed = self.contributions[index][1], self.contributions[index][2]
        if local is not None:
            text = f"×{format_number(local)} = {format_number(passed)}"
        else:
            lines = _preview_lines(passed, self.steps.options)
            text = lines[0] if len(lines) == 1 and len(lines[0]) < 28 else f"grad {tuple(np.shape(passed))}"
        return {"color": COLORS["highlight"], "penwidth": "2.5", "fontcolor": "#b00000", "label": text,
                "dir": "back", "arrowtail": "normal"}


class BackwardSteps:
    """The steps of one backward pass, in walk order (a sequence of :class:`BackwardStep`)."""

    def __init__(self, root, is_scalar):
        self.root, self.is_scalar = root, is_scalar
        self.steps = []
        self.names = {}
        self.options = _Options(True, True, "LR", True, True, 10 ** 9, 12, 4, True, None)

    def __len__(self):
        return len(self.steps)

    def __getitem__(self, index):
        return self.steps[index]

    def __iter__(self):
        return iter(self.steps)

    def __repr__(self):
        return f"<BackwardSteps: {len(self)} steps of the backward pass from {type(self.root).__name__}>"

    @property
    def order(self):
        """The vertices in the order they were processed."""
        return [s.vertex for s in self.steps]

    def draw(self, index, rankdir="LR", show_data=True, precision=4, legend=True, caption=True):
        """The graph as it is after step ``index`` (a ``graphviz.Digraph``), captioned with the step count
        and the step's caption; ``caption=False`` leaves both out (the player shows them as text)."""
        options = _Options(show_data, True, rankdir, True, True, 10 ** 9, 12, precision, legend, None)
        step = self.steps[index]
        lines = frame_caption(step, len(self)) if caption else ()
        return _draw(self.root, options, frame=_Captioned(step, lines))

    def frames(self, **options):
        return [self.draw(i, **options) for i in range(len(self))]

    def render_frames(self, directory, format="png", **options):
        """Write one file per step (``step_001.png`` ...) into ``directory``; returns their paths."""
        os.makedirs(directory, exist_ok=True)
        paths = []
        for i, frame in enumerate(self.frames(**options)):
            stem = os.path.join(directory, f"step_{i + 1:03d}")
            paths.append(frame.render(stem, format=format, cleanup=True))
        return paths

    def svgs(self, **options):
        return [frame.pipe(format="svg").decode("utf-8") for frame in self.frames(**options)]

    def save(self, path, interval=1.5, **options):
        """``.html``: a page with the step player (``page.html#step=7`` opens step 7); ``.svg``: an
        animated SVG (``interval`` seconds a step, the last held three times longer, looping).
        Returns ``path``."""
        extension = os.path.splitext(path)[1].lower()
        if extension in (".html", ".htm"):
            text = player_page(self, interval, **options)
        elif extension == ".svg":
            text = animated_svg(self.svgs(**options), interval)
        else:
            raise ValueError(f"BackwardSteps.save: write .html (a player) or .svg (animated), got {path!r}; "
                             f"render_frames(folder, format=...) writes one file per step")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _repr_html_(self):
        return player_html(self, 1.5)


class _Captioned:
    """A step drawn with the given caption lines (the drawing reads everything else from the step)."""

    def __init__(self, step, caption_lines):
        self._step, self.caption_lines = step, caption_lines

    def __getattr__(self, name):
        return getattr(self._step, name)


# ---------------------------------------------------------------------------- the steps
class _Recorder:
    """Observes the engine's backward walk (``autograd.engine.backward(..., observer=)``) and keeps
    one :class:`BackwardStep` per vertex, in the walk's own order, with what it received and passed.

    The gradients it shows as known after each step are the vertices' final gradients once done and,
    before that, the sum of what has reached them so far (what the walk holds for them then)."""

    def __init__(self, steps, caption):
        self.steps, self.caption = steps, caption
        self.known, self.done = {}, set()

    def __call__(self, vertex, grad, input_grads):
        contributions = []
        passed = input_grads or (None,) * len(vertex.next_edges)
        for i, (edge, g) in enumerate(zip(vertex.next_edges, passed)):
            local = vertex.local_grads[i] if isinstance(vertex, Scalar) else None  # a Tensor op's is a Jacobian
            contributions.append((edge, local, None if g is None else _value(g)))
            if edge is not None and g is not None:
                previous = self.known.get(id(edge))
                self.known[id(edge)] = _value(g) if previous is None else previous + _value(g)
        value = None if grad is None else _value(grad)
        if value is not None:
            self.known[id(vertex)] = value
        if not vertex.next_edges and value is not None:  # a leaf: show its .grad after accumulation
            self.known[id(vertex)] = _value(vertex.grad)
        self.done = self.done | {id(vertex)}
        index = len(self.steps.steps)
        caption = self.caption(self.steps, vertex, value, contributions)
        self.steps.steps.append(BackwardStep(self.steps, index, vertex, value, contributions,
                                             dict(self.known), self.done, caption))


def _value(g):
    """A gradient as the steps keep it: a float for Scalars, a numpy array (a copy) for Tensors."""
    return np.array(g._data) if isinstance(g, Tensor) else g


def _scalar_steps(root, gradient, max_steps):
    order = topological_order([root])
    _check_size(order, max_steps)
    steps = BackwardSteps(root, True)
    for n, vertex in enumerate(order):
        if vertex.label:
            steps.names[id(vertex)] = vertex.label
        elif vertex.is_param is None:  # a constant: its value says what it is
            steps.names[id(vertex)] = format_number(vertex.data)
        else:
            steps.names[id(vertex)] = f"#{n + 1}"
    engine.backward([root], [gradient], observer=_Recorder(steps, _scalar_caption))
    return steps


def _scalar_caption(steps, vertex, grad, contributions):
    name = steps.names
    out = name[id(vertex)]
    if not vertex.next_edges:
        if vertex.is_param is None:  # a number written in the expression: nothing learns it
            return [f"{out} is a constant: it needs no gradient"]
        kind = "parameter" if vertex.is_param else "leaf"
        return [f"{out} is a {kind}: its gradient is complete, {out}.grad = {format_number(vertex.grad)}"]
    inputs = [name[id(p)] for p in vertex.next_edges]
    expression = (f" {vertex.op} ".join(inputs) if vertex.op in _INFIX and len(inputs) == 2
                  else f"{vertex.op}({', '.join(inputs)})")
    lines = [f"{out} = {expression} = {format_number(vertex.data)},  {out}.grad = {format_number(grad)}"]
    formulas = SCALAR_DERIVATIVES.get(vertex.op, ())
    for i, (parent, local, passed) in enumerate(contributions):
        if parent.is_param is None:
            continue  # a constant's gradient is never used: no line for it
        formula = f"      [{formulas[i]}]" if i < len(formulas) else ""
        lines.append(f"{name[id(parent)]}.grad += ∂{out}/∂{name[id(parent)]} × {out}.grad = "
                     f"{format_number(local)} × {format_number(grad)} = {format_number(passed)}{formula}")
    return lines


def _tensor_steps(root, gradient, max_steps):
    if not root.requires_grad:
        raise RuntimeError("backward_steps: the tensor does not require grad (create the inputs with "
                           "requires_grad=True)")
    seed = engine.initial_gradient(root, gradient, "backward_steps")
    root_vertex = engine.vertex_of(root)
    order = topological_order([root_vertex])
    _check_size(order, max_steps)
    steps = BackwardSteps(root, False)
    for vertex in order:
        steps.names[id(vertex)] = vertex.name() if isinstance(vertex, Node) else (vertex.name or "leaf")
    # The graph is kept (retain_graph) so that it can be drawn after the walk.
    engine.backward([root_vertex], [seed], retain_graph=True, observer=_Recorder(steps, _tensor_caption))
    return steps


def _shape_words(shape):
    return "scalar" if tuple(shape) == () else f"shape {tuple(shape)}"


def _tensor_caption(steps, vertex, grad, contributions):
    if not isinstance(vertex, Node):
        label = vertex.name or ("parameter" if type(vertex).__name__ == "Parameter" else "leaf")
        return [f"{label} {_shape_words(vertex.shape)}: .grad accumulated (AccumulateGrad)"]
    if grad is None:
        return [f"{vertex.name()} receives no gradient"]
    lines = [f"{vertex.name()} receives the gradient of its output ({_shape_words(grad.shape)}) and passes "
             f"one to each input"]
    formula = (vertex.function.__doc__ or "").replace("``", "").strip().splitlines()
    if formula:
        lines.append(f"{vertex.function.__name__}: {formula[0]}")
    return lines
