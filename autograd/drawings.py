"""The course's example drawings and the command that makes the README's images.

``python -m autograd.drawings neuron -o neuron.svg --steps neuron_backprop.svg`` draws the course's
neuron after backward (and its backward pass step by step, animated); ``mlp`` is a 2-2-1 network in
Scalars and ``tensor-mlp`` the same network in Tensors. ``make graph`` writes ``docs/images`` with it.
It joins the drawing (:mod:`autograd.draw`) and the step-by-step pass (:mod:`autograd.backprop_steps`,
which draws with :mod:`autograd.draw`), so that :mod:`autograd.draw` depends on neither.
"""
import argparse
import os

from .backprop_steps import backward_steps
from .draw import draw_graph
from .scalar import Scalar
from .tensor import Tensor

__all__ = ["EXAMPLES", "example_graph", "main"]

EXAMPLES = ("neuron", "mlp", "tensor-mlp")


def example_graph(name, backward=True):
    """The graphs of the README and the notebook: the course's neuron, a tiny MLP (Scalars), and the
    same MLP in Tensors. Returns the root (after backward unless ``backward=False``)."""
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
    parser = argparse.ArgumentParser(prog="python -m autograd.drawings",
                                     description="Draw one of numbagrad's example backprop graphs.")
    parser.add_argument("example", choices=EXAMPLES)
    parser.add_argument("-o", "--output", required=True, help="file to write: .svg, .png or .pdf")
    parser.add_argument("--steps", help="also write the backward pass step by step: .svg (animated) or .html")
    parser.add_argument("--rankdir", default="LR", choices=("LR", "TB", "RL", "BT"))
    args = parser.parse_args(argv)
    root = example_graph(args.example)
    stem, extension = os.path.splitext(args.output)
    draw_graph(root, rankdir=args.rankdir).render(stem, format=extension.lstrip(".") or "svg", cleanup=True)
    print(f"wrote {args.output}")
    if args.steps:
        backward_steps(example_graph(args.example, backward=False)).save(args.steps)
        print(f"wrote {args.steps}")


if __name__ == "__main__":
    main()
