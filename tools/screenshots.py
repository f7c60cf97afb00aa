"""The README's screenshots of the backprop step player, taken in headless Chromium: ``make screenshots``
(``python -m tools.screenshots [--out docs/images]``).

The two graphs are the ones tests/test_step_player_browser.py plays: the README's neuron (Scalars) and a
2-3-1 MLP in Tensors with a mean-squared-error loss.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import autograd as ag
import nn
from tools.headless_chromium import BrowserError, Chromium

WINDOW = (1280, 800)


def neuron_steps():
    """The README's neuron, h = tanh(x1·w1 + x2·w2 + b)."""
    x1, x2 = ag.Scalar(2.0, label="x1"), ag.Scalar(0.0, label="x2")
    w1, w2 = ag.Scalar(-3.0, label="w1", param=True), ag.Scalar(1.0, label="w2", param=True)
    b = ag.Scalar(6.8813735870195432, label="b", param=True)
    z = x1 * w1 + x2 * w2 + b
    z.label = "z"
    h = z.tanh()
    h.label = "h"
    return ag.backward_steps(h)


def mlp_steps():
    """A 2-3-1 MLP (tanh) on three points, mean-squared error."""
    ag.manual_seed(0)
    model = nn.MLP([2, 3, 1], activation="tanh")
    x = ag.tensor([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.8]])
    y = ag.tensor([[1.0], [0.0], [0.5]])
    loss = ((model(x) - y) ** 2).mean()
    return ag.backward_steps(loss)


SHOTS = (  # file, steps, the step shown
    ("step_player_neuron.png", neuron_steps, 4),
    ("step_player_mlp.png", mlp_steps, 4),
)


def take(out_dir):
    """Write the screenshots into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as work, Chromium(*WINDOW) as browser:
        for name, make, step in SHOTS:
            page = make().save(os.path.join(work, name.replace(".png", ".html")))
            browser.open(f"{Path(page).as_uri()}#step={step}")
            browser.wait_for("document.querySelector('.ngp').dataset.ready")
            # the window as a reader has it, cut under the player (not at the bottom of the window)
            path = browser.screenshot(os.path.join(out_dir, name), below=".ngp")
            if browser.errors:
                raise BrowserError(f"{name}: the page raised {browser.errors}")
            paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="folder for the PNG files (docs/images)")
    args = parser.parse_args(argv)
    try:
        paths = take(args.out)
    except BrowserError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
