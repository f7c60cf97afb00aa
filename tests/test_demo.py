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
