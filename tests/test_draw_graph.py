"""draw_graph and backward_steps: the rendered SVG holds the right labels, values and gradients; leaves,
parameters and outputs are told apart; max_nodes cuts and says so; a missing `dot` gives an error that
says what to install; the steps follow the engine's walk and end with every gradient filled in."""
import math
import shutil
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import autograd as ag
from autograd import Scalar
from autograd.backprop_steps import BackwardSteps
from autograd.draw import COLORS, GraphvizNotInstalledError, format_number
from autograd.drawings import example_graph
from autograd.engine import topological_order

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def svg_nodes(drawing):
    """{graphviz node name: [its text lines]} of the rendered SVG, parsed as XML."""
    root = ET.fromstring(drawing.pipe(format="svg"))
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            name = group.find(f"{SVG}title").text
            # (Graphviz writes runs of spaces as no-break spaces)
            nodes[name] = [t.text.replace("\xa0", " ").strip() for t in group.iter(f"{SVG}text")
                           if t.text and t.text.strip()]
    return nodes


def neuron():
    """The course's neuron h = tanh(x1·w1 + x2·w2 + b)."""
    return example_graph("neuron", backward=False)


def value_node(nodes, label):
    matches = [texts for texts in nodes.values() if texts and texts[0] == label]
    assert len(matches) == 1, (label, nodes)
    return matches[0]


@needs_dot
def test_rendered_svg_holds_labels_data_and_gradients_of_the_neuron():
    h = neuron()
    h.backward()
    drawing = ag.draw_graph(h)
    assert isinstance(drawing, graphviz.Digraph)
    nodes = svg_nodes(drawing)
    # values computed by hand: z = 2·(-3) + 0·1 + 6.8814 = 0.8814, h = tanh z = 0.7071, dh/dz = 1 - h² = 0.5
    expected = {
        "x1": (2.0, -3.0 * 0.5), "x2": (0.0, 1.0 * 0.5), "w1": (-3.0, 2.0 * 0.5), "w2": (1.0, 0.0),
        "b": (6.8813735870195432, 0.5), "z": (0.8813735870195432, 0.5), "h": (math.sqrt(0.5), 1.0),
    }
    for label, (data, grad) in expected.items():
        texts = value_node(nodes, label)
        assert texts[1] == f"data {format_number(data)}"
        assert float(texts[2].split()[1]) == pytest.approx(grad, abs=5e-5), (label, texts)
    ops = sorted(texts[0] for texts in nodes.values() if len(texts) == 1 and texts[0] in "*+tanh")
    assert ops == ["*", "*", "+", "+", "tanh"]


def test_drawing_builds_without_dot_and_colours_kinds_apart():
    h = neuron()
    source = ag.draw_graph(h).source
    for label in ("x1", "x2", "w1", "w2", "b", "z", "h"):
        assert f"<B>{label}</B>" in source
    lines = source.splitlines()

    def colour_of(label):
        line = next(ln for ln in lines if f"<B>{label}</B>" in ln)
        return line.split('BGCOLOR="')[1].split('"')[0]

    assert colour_of("x1") == COLORS["input"]
    assert colour_of("w1") == colour_of("b") == COLORS["parameter"]
    assert colour_of("z") == COLORS["value"]
    assert colour_of("h") == COLORS["output"]
    assert "legend" in source


def test_options_hide_data_and_grad_and_set_direction():
    h = neuron()
    source = ag.draw_graph(h, show_data=False, show_grad=False, rankdir="TB", legend=False).source
    assert "data " not in source and "grad " not in source and "rankdir=TB" in source
    assert "legend" not in source
    with pytest.raises(ValueError, match="rankdir"):
        ag.draw_graph(h, rankdir="XY")
    with pytest.raises(TypeError, match="Tensor or a Scalar"):
        ag.draw_graph(3.0)


@needs_dot
def test_tensor_graph_shows_names_shapes_dtypes_and_previews():
    nn = pytest.importorskip("nn")
    W = nn.Parameter(ag.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=ag.float64))
    W.name = "fc1.weight"
    x = ag.tensor([1.0, 2.0], dtype=ag.float64, requires_grad=True)
    x.name = "x"
    big = ag.arange(100, dtype=ag.float64).reshape(10, 10).requires_grad_()
    big.name = "big"
    loss = (W @ x).tanh().sum() + (big * 2.0).sum()
    loss.name = "loss"
    loss.backward()
    nodes = svg_nodes(ag.draw_graph(loss))
    weight = value_node(nodes, "fc1.weight")
    assert weight[1] == "(2, 2) float64"
    assert "data [[ 1. , -2. ]," in weight and "[ 0.5,  3. ]]" in weight
    grad = (1 - np.tanh(np.array([[1.0, -2.0], [0.5, 3.0]]) @ [1.0, 2.0]) ** 2)[:, None] * [1.0, 2.0]
    with np.printoptions(precision=4, floatmode="maxprec", linewidth=72):
        expected = np.array2string(grad, separator=", ").splitlines()
    assert weight[4:] == ["grad " + expected[0]] + [line.strip() for line in expected[1:]]
    assert "e-06" in weight[5]   # a tiny gradient is not printed as 0
    big_texts = value_node(nodes, "big")
    assert big_texts[1] == "(10, 10) float64"
    assert big_texts[2] == f"data mean {format_number(49.5)}  std {format_number(np.arange(100).std())}"
    assert big_texts[3] == "min 0  max 99"
    assert big_texts[4] == "grad mean 2  std 0"
    assert value_node(nodes, "loss")[1] == "() float64"
    op_names = {texts[0] for texts in nodes.values() if len(texts) == 1}
    assert {"MatMulBackward", "TanhBackward", "SumAllBackward", "MulBackward", "AddBackward"} <= op_names
    source = ag.draw_graph(loss).source
    line = next(ln for ln in source.splitlines() if "<B>fc1.weight</B>" in ln)
    assert COLORS["parameter"] in line
    line = next(ln for ln in source.splitlines() if "<B>x</B>" in ln)
    assert COLORS["input"] in line


def test_tensor_without_graph_is_refused():
    with pytest.raises(ValueError, match="requires_grad=True"):
        ag.draw_graph(ag.ones(2))


def test_max_nodes_cuts_the_far_end_and_says_what_it_cut():
    x = Scalar(1.0, label="x")
    y = x
    for _ in range(100_000):
        y = y.tanh()
    y.label = "y"
    drawing = ag.draw_graph(y, max_nodes=30)
    assert drawing.cut == 100_001 - 30
    source = drawing.source
    assert source.count("<TABLE") - source.count("legend") <= 31
    assert f"{100_001 - 30} more values" in source and "max_nodes=30" in source
    assert "<B>y</B>" in source and "<B>x</B>" not in source
    assert ag.draw_graph(Scalar(1.0) * 2.0).cut == 0


def test_rendering_without_dot_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))   # no `dot` on this PATH
    drawing = ag.draw_graph(neuron())
    assert "digraph" in drawing.source
    with pytest.raises(GraphvizNotInstalledError, match="apt-get install graphviz") as info:
        drawing.render(tmp_path / "g", format="svg")
    assert isinstance(info.value, graphviz.ExecutableNotFound) and "brew install graphviz" in str(info.value)
    with pytest.raises(GraphvizNotInstalledError):
        drawing.pipe(format="svg")
    with pytest.raises(GraphvizNotInstalledError):
        drawing._repr_mimebundle_()


# ---------------------------------------------------------------------------- step by step
def reference_grads(build):
    root, leaves = build()
    root.backward()
    return [leaf.grad for leaf in leaves]


def mlp_in_scalars():
    root = example_graph("mlp", backward=False)
    leaves = [v for v in topological_order([root]) if v.is_leaf]
    return root, leaves


def test_scalar_steps_follow_reverse_topological_order_and_end_with_every_gradient():
    expected = reference_grads(mlp_in_scalars)
    root, leaves = mlp_in_scalars()
    steps = ag.backward_steps(root)
    assert isinstance(steps, BackwardSteps)
    order = steps.order
    assert order == topological_order([root])
    position = {id(v): i for i, v in enumerate(order)}
    for v in order:            # every vertex after every vertex that consumes it
        for parent in v.next_edges:
            assert position[id(parent)] > position[id(v)]
    assert [leaf.grad for leaf in leaves] == pytest.approx(expected, rel=1e-12)
    last = steps[-1]
    assert last.done == {id(v) for v in order}
    for v in order:
        assert last.grads[id(v)] == pytest.approx(v.grad)
    # a step passes exactly local derivative × gradient to each input
    for step in steps:
        for parent, local, passed in step.contributions:
            assert passed == pytest.approx(local * step.grad)
    # gradients appear progressively: the first step knows only the output's and its inputs'
    assert set(steps[0].grads) == {id(root)} | {id(p) for p in root.next_edges}


def test_scalar_step_captions_write_out_the_chain_rule():
    x, w = Scalar(2.0, label="x"), Scalar(-3.0, label="w", param=True)
    y = x * w
    y.label = "y"
    steps = ag.backward_steps(y)
    assert [s.name for s in steps] == ["y", "x", "w"]  # the walk's order: the op, then its leaves
    assert steps[0].caption_lines[0] == "y = x * w = -6,  y.grad = 1"
    assert steps[0].caption_lines[1].startswith("x.grad += ∂y/∂x × y.grad = -3 × 1 = -3")
    assert steps[2].caption_lines[0] == "w is a parameter: its gradient is complete, w.grad = 2"


@needs_dot
def test_step_frames_render_with_highlight_and_progressive_gradients(tmp_path):
    root = neuron()
    steps = ag.backward_steps(root)
    first = svg_nodes(steps.draw(0))
    assert value_node(first, "x1")[2] == "grad ?"               # not reached yet
    assert value_node(first, "z")[2] == "grad 0.5 (so far)"      # reached, not processed yet
    assert value_node(first, "h")[2] == "grad 1"
    last = svg_nodes(steps.draw(len(steps) - 1))
    assert value_node(last, "x1")[2] == "grad -1.5"
    assert COLORS["highlight"] in steps.draw(0).source
    # the animated SVG has one frame per step, each with its SMIL animation; the last is the static view
    path = steps.save(str(tmp_path / "steps.svg"), interval=0.5)
    svg = ET.parse(path).getroot()
    frames = svg.findall(f"{SVG}svg")
    assert len(frames) == len(steps)
    assert all(f.find(f"{SVG}animate") is not None for f in frames)
    assert [f.get("visibility") for f in frames] == ["hidden"] * (len(steps) - 1) + ["visible"]
    html = open(steps.save(str(tmp_path / "steps.html")), encoding="utf-8").read()
    assert html.count('class="frame"') == len(steps) and "<script>" in html
    assert steps._repr_html_().count('class="frame"') == len(steps)
    pngs = steps.render_frames(str(tmp_path / "frames"), format="png")
    assert len(pngs) == len(steps) and all(open(p, "rb").read(4) == b"\x89PNG" for p in pngs)
    with pytest.raises(ValueError, match=r"\.html"):
        steps.save(str(tmp_path / "steps.gif"))


def tensor_mlp():
    root = example_graph("tensor-mlp", backward=False)
    leaves = [v for v in topological_order([root.grad_fn]) if isinstance(v, ag.Tensor)]
    return root, leaves


def test_tensor_steps_match_backward_and_follow_the_engine_walk():
    expected = [g.numpy().copy() for g in reference_grads(tensor_mlp)]
    root, leaves = tensor_mlp()
    steps = ag.backward_steps(root)
    assert steps.order == topological_order([root.grad_fn])
    for leaf, g in zip(leaves, expected):
        np.testing.assert_allclose(leaf.grad.numpy(), g, rtol=1e-12)
    last = steps[-1]
    assert last.done == {id(v) for v in steps.order}
    assert all(id(v) in last.grads for v in steps.order)
    for leaf in leaves:
        np.testing.assert_allclose(last.grads[id(leaf)], leaf.grad.numpy())
    # Tensor steps name the op and its formula from the op's docstring
    assert steps[0].caption_lines[0].endswith("receives the gradient of its output (scalar) and passes one to each input")
    assert any("MatMul: C = A @ B" in line for s in steps for line in s.caption_lines)
    source = steps.draw(3).source
    assert COLORS["highlight"] in source


def test_scalar_and_tensor_mlp_examples_agree():
    s_root, s_leaves = mlp_in_scalars()
    t_root, _ = tensor_mlp()
    s_root.backward()
    t_root.backward()
    assert s_root.data == pytest.approx(t_root.item(), rel=1e-12)
    grads = {leaf.label: leaf.grad for leaf in s_leaves if leaf.is_param}
    W1 = t_root.grad_fn  # walk to the named tensors
    named = {v.name: v for v in topological_order([W1]) if isinstance(v, ag.Tensor)}
    for i in range(2):
        for j in range(2):
            assert grads[f"W1[{i + 1},{j + 1}]"] == pytest.approx(named["W1"].grad.numpy()[i, j], rel=1e-10)
        assert grads[f"b1[{i + 1}]"] == pytest.approx(named["b1"].grad.numpy()[i], rel=1e-10)
        assert grads[f"W2[1,{i + 1}]"] == pytest.approx(named["W2"].grad.numpy()[0, i], rel=1e-10)


def test_max_steps_guard():
    y = Scalar(1.0)
    for _ in range(300):
        y = y.sin()
    with pytest.raises(ValueError, match="max_steps"):
        ag.backward_steps(y, max_steps=100)


def test_command_line_draws_an_example(tmp_path, capsys):
    from autograd.drawings import main
    out = tmp_path / "neuron.dot"
    if shutil.which("dot") is None:
        with pytest.raises(GraphvizNotInstalledError):
            main(["neuron", "-o", str(tmp_path / "neuron.svg")])
        return
    main(["neuron", "-o", str(tmp_path / "neuron.svg"), "--steps", str(tmp_path / "steps.svg")])
    root = ET.parse(tmp_path / "neuron.svg").getroot()
    assert root.tag == f"{SVG}svg"
    assert ET.parse(tmp_path / "steps.svg").getroot().findall(f"{SVG}svg")
    assert "wrote" in capsys.readouterr().out
    assert not out.exists()


# ---------------------------------------------------------------------------- stable, public, grouped
def test_the_same_graph_gives_the_same_dot_text():
    first = ag.draw_graph(example_graph("tensor-mlp")).source
    second = ag.draw_graph(example_graph("tensor-mlp")).source
    assert first == second
    assert ag.draw_graph(example_graph("mlp")).source == ag.draw_graph(example_graph("mlp")).source
    assert str(id(example_graph("neuron"))) not in first


@needs_dot
def test_the_readme_drawings_are_unchanged_by_a_second_run(tmp_path):
    from autograd.drawings import main
    contents = []
    for run in range(2):
        folder = tmp_path / str(run)
        folder.mkdir()
        main(["neuron", "-o", str(folder / "neuron.svg"), "--steps", str(folder / "neuron_backprop.svg")])
        main(["mlp", "-o", str(folder / "mlp.svg"), "--rankdir", "TB"])
        contents.append({name: (folder / name).read_bytes()
                         for name in ("neuron.svg", "neuron_backprop.svg", "mlp.svg")})
    assert contents[0] == contents[1]


def test_draw_imports_neither_backprop_steps_nor_private_engine_names():
    import ast
    import pathlib
    import subprocess
    import sys
    code = "import autograd.draw, sys; print('autograd.backprop_steps' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    tree = ast.parse(pathlib.Path(ag.__file__).with_name("draw.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module in (None, "engine"), node.module   # the package itself, or engine's API
            assert not any(alias.name.startswith("_") for alias in node.names)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in (
                "node", "vertex", "tensor", "root"):
            assert not node.attr.startswith("_"), node.attr


def test_intermediate_values_say_in_one_line_what_backward_did_not_keep():
    root = example_graph("tensor-mlp")
    drawing = ag.draw_graph(root)
    source = drawing.source
    assert "data · grad not kept" in source
    assert "grad ?" not in source                      # "?" is for the steps: not reached yet
    assert "backward frees what ops saved" in source and "retain_grad()" in source   # the legend says why
    assert "grad 1 (the seed)" in source               # the output's own gradient is known
    assert "grad not kept" in ag.draw_graph(example_graph("tensor-mlp", backward=False)).source


def test_a_retained_gradient_is_shown():
    x = ag.tensor([1.0, 2.0], dtype=ag.float64, requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    h.name = "h"
    y = h.sum()
    y.backward()
    source = ag.draw_graph(y).source
    line = next(ln for ln in source.splitlines() if "<B>h</B>" in ln)
    assert "grad [1., 1.]" in line and "not kept" not in line


def test_scalar_constants_have_no_gradient_in_the_drawing():
    x = Scalar(3.0, label="x")
    y = x * 2.0
    y.label = "y"
    y.backward()
    source = ag.draw_graph(y).source
    constant = next(ln for ln in source.splitlines() if COLORS["constant"] in ln and "<TABLE" in ln)
    assert "data 2" in constant and "grad" not in constant
    assert "grad 2" in next(ln for ln in source.splitlines() if "<B>x</B>" in ln)


def _model_with_modules(blocks):
    """A tiny transformer-like model: blocks of (attention of four Linears, MLP), then a head."""
    nn = pytest.importorskip("nn")

    class Attention(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x):
            scores = self.q_proj(x) @ self.k_proj(x).transpose(-1, -2) / 2.0
            return self.o_proj(ag.softmax(scores, dim=-1) @ self.v_proj(x))

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.attn, self.fc1, self.fc2 = Attention(d), nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

        def forward(self, x):
            x = x + self.attn(x)
            return x + self.fc2(self.fc1(x).relu())

    class Net(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.blocks = nn.Sequential(*[Block(d) for _ in range(blocks)])
            self.head = nn.Linear(d, 3)

        def forward(self, x):
            return self.head(self.blocks(x))

    ag.manual_seed(0)
    net = Net(4)
    loss = nn.functional.cross_entropy(net(ag.randn(5, 4)), ag.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    return loss


def _ops_by_cluster(source):
    """{op label: the labels of the innermost module boxes it is drawn in}, read from the DOT text."""
    import re
    placed, stack = {}, []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("subgraph "):
            stack.append(None)
        elif stack and stack[-1] is None and "labeljust=l" in line:
            stack[-1] = re.search(r'label=("?)([\w.]+)\1 ', line).group(2)
        elif line == "}" and stack:
            stack.pop()
        elif stack and re.match(r"o\d+ \[label=", line):
            placed.setdefault(line.split("[label=")[1].split()[0], set()).add(stack[-1])
    return placed


def test_values_are_drawn_inside_the_box_of_their_module():
    loss = _model_with_modules(1)
    drawing = ag.draw_graph(loss)
    assert drawing.cut == 0 and drawing.folded == ()
    placed = _ops_by_cluster(drawing.source)
    # the softmax of the attention is inside blocks.0.attn, the ReLU after fc1 outside fc1
    assert placed["SoftmaxBackward"] == {"blocks.0.attn"}
    assert placed["ReluBackward"] == {"blocks.0"}
    assert placed["LinearBackward"] == {"blocks.0.attn.q_proj", "blocks.0.attn.k_proj", "blocks.0.attn.v_proj",
                                        "blocks.0.attn.o_proj", "blocks.0.fc1", "blocks.0.fc2", "head"}
    assert "CrossEntropyBackward" not in placed   # the loss belongs to no module


def test_max_nodes_folds_modules_and_says_which():
    loss = _model_with_modules(2)
    full = ag.draw_graph(loss)
    drawing = ag.draw_graph(loss, max_nodes=25)
    assert drawing.folded and drawing.cut > 0
    assert "blocks.0.attn" in drawing.folded or "blocks.0" in drawing.folded
    source = drawing.source
    assert f"max_nodes=25: {len(drawing.folded)} modules folded into one box each" in source
    for path in drawing.folded:
        assert f"{path}\nfolded: " in source
    boxes = source.count("<TABLE") - 1 + source.count("folded: ")   # value boxes + folded modules, no legend
    assert boxes <= 25 < full.source.count("<TABLE") - 1
    assert ag.draw_graph(loss, max_nodes=25).source == source
    flat = ag.draw_graph(loss, max_nodes=25, group_modules=False)
    assert flat.folded == () and "more values and their ops are not drawn" in flat.source


@needs_dot
def test_folded_drawing_renders():
    svg = ag.draw_graph(_model_with_modules(2), max_nodes=20).pipe(format="svg")
    assert ET.fromstring(svg).tag == f"{SVG}svg"


def test_scalar_trace_gives_constants_no_gradient():
    x = Scalar(3.0, label="x")
    y = 0.5 * x ** 2
    y.label = "y"
    steps = ag.backward_steps(y)
    lines = [line for step in steps for line in step.caption_lines]
    assert not any(line.startswith(("0.5.grad", "2.grad")) for line in lines), lines
    for constant in ("0.5", "2"):
        assert any(line.endswith(f"{constant} is a constant: it needs no gradient") for line in lines), lines
    assert any(line.startswith("x.grad += ") for line in lines) and x.grad == pytest.approx(3.0)


def _attention_loss():
    nn = pytest.importorskip("nn")
    ag.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    x = ag.randn(1, 3, 8, requires_grad=True)
    out, _ = attn(x, x, x, is_causal=True, need_weights=False)
    loss = out.sum()
    loss.backward()
    return attn, loss


def test_module_names_the_boxes_and_an_attention_module_keeps_its_ops():
    attn, loss = _attention_loss()
    placed = _ops_by_cluster(ag.draw_graph(loss, module=attn).source)
    # the attention's own ops (after its packed input projection) are inside its box, the output
    # projection in its own box inside it, the loss outside
    assert placed["SoftmaxBackward"] == {"MultiheadAttention"}
    assert placed["LinearBackward"] == {"MultiheadAttention", "MultiheadAttention.out_proj"}
    assert "SumAllBackward" not in placed
    with pytest.raises(TypeError, match="named_parameters"):
        ag.draw_graph(loss, module=3)


def test_a_fully_folded_module_keeps_the_output_drawn():
    attn, loss = _attention_loss()
    drawing = ag.draw_graph(loss, module=attn, max_nodes=12)
    assert drawing.folded == ("MultiheadAttention",)
    source = drawing.source
    assert "max_nodes=12: 1 module folded into one box (MultiheadAttention)" in source
    assert "grad 1 (the seed)" in source and "SumAllBackward" in source


def test_a_drawing_prints_the_same_on_every_run():
    first, second = (ag.draw_graph(example_graph("tensor-mlp"), max_nodes=5) for _ in range(2))
    assert repr(first) == repr(second) == "<GraphDrawing: 5 values drawn, 11 not drawn on their own>"
    assert "0x" not in repr(first)
