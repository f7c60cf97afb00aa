"""The README's demo, on a short run: it trains to a useful accuracy and writes its images."""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _demo():
    spec = importlib.util.spec_from_file_location("numbagrad_demo", os.path.join(ROOT, "demo.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_short_run(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    result = _demo().main(epochs=6, out_dir=str(tmp_path), progress=False)
    out = capsys.readouterr().out
    assert result["test_accuracy"] >= 0.9
    assert "Test accuracy" in out and "gradcheck" in out and "passed" in out
    assert (tmp_path / "loss_curve.png").stat().st_size > 0
    graph = [f for f in os.listdir(tmp_path) if f.startswith("backprop_graph")]
    assert graph and graph[0] in ("backprop_graph.png", "backprop_graph.gv")  # .gv when `dot` is missing


def test_demo_drawing_shows_the_pixels_and_the_labels():
    import autograd as ag
    import nn
    demo = _demo()
    ag.manual_seed(0)
    _, _, (X_test, y_test) = demo.load_data(0)
    model = demo.make_model()
    source = demo.backprop_drawing(model, nn.CrossEntropyLoss(), X_test, y_test).source
    pixels = next(line for line in source.splitlines() if "<B>pixels</B>" in line)
    assert "(2, 64) float32" in pixels and "data mean" in pixels and "grad mean" in pixels
    labels = ", ".join(str(int(v)) for v in y_test[:2].tolist())
    assert f"(labels {labels})" in source
    assert "backward frees what ops saved" in source          # the legend says why values are not kept
    assert all(p.grad is None for p in model.parameters()) and model.training
