"""numbagrad demo: an MLP learns the UCI handwritten digits, then draws its own backprop graph.

Run with ``make demo`` (sets everything up first) or ``python demo.py`` inside the virtual environment
(``python demo.py --help`` for the options). It trains ``nn.MLP([64, 128, 64, 10], dropout=0.2)`` with
Adam and a cosine learning-rate schedule on the 8×8 digits that ship with numbagrad (1797 images: 80% for training, of which a tenth for validation,
20% held out for the test), prints the test accuracy, and writes into ``demo_output/``:

- ``loss_curve.png``: the training and validation loss and accuracy, epoch by epoch;
- ``backprop_graph.png``: the graph backward walks for the loss of a batch of 2 images, from their
  pixels to the loss, with each layer's values in a box of its own and the labels in the title (needs
  Graphviz's ``dot``; without it, the DOT text ``backprop_graph.gv`` and a note saying how to install it).

Then the gradient of that loss with respect to the input pixels is checked against central finite
differences in float64. Finally the same training runs a few epochs eagerly and with
``fit(..., compile=True)`` (``autograd.compile``: each batch's step is captured once and replayed),
from the same seed on the same data, and the demo prints the median time of an epoch each way, their
ratio, and whether the two runs logged the same losses.
"""
import argparse
import os
import statistics
import sys
import time

import autograd as ag
import nn
import optim
from nn.data import DataLoader, TensorDataset, load_digits, train_test_split
from nn.training import Callback, evaluate, fit

OUT_DIR = "demo_output"


def load_data(seed):
    """Digits scaled to [0, 1], split into train / validation / test (stratified by class)."""
    X, y = load_digits()
    X = X / 16.0
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.1, random_state=seed,
                                                      stratify=y_rest)
    return (X_train, y_train), (X_val, y_val), (X_test, y_test)


def backprop_drawing(model, loss_fn, X, y):
    """The graph of the loss of two images after backward (in eval mode: no dropout ops), with the
    pixels as an input of the drawing and the labels in its title. The model's gradients are zeroed
    again afterwards; returns the ``graphviz.Digraph``."""
    model.eval()
    try:
        pixels = X[:2].detach().requires_grad_()  # so the drawing shows them, with ∂loss/∂pixels
        pixels.name = "pixels"
        labels = y[:2]
        loss = loss_fn(model(pixels), labels)
        loss.name = "loss"
        model.zero_grad()
        loss.backward(retain_graph=True)  # keep what the ops saved, so the drawing can preview it
        return ag.draw_graph(loss, title=f"Backprop graph of the cross-entropy of 2 digits (labels "
                                         f"{', '.join(str(int(v)) for v in labels.tolist())}) through the MLP")
    finally:
        model.zero_grad()
        model.train()


def save_backprop_graph(model, loss_fn, X, y, out_dir):
    """Render :func:`backprop_drawing` to ``out_dir``; returns the file written."""
    dot = backprop_drawing(model, loss_fn, X, y)
    base = os.path.join(out_dir, "backprop_graph")
    try:
        return dot.render(base, format="png", cleanup=True)
    except Exception as error:  # Graphviz's `dot` missing (GraphvizNotInstalledError) or failing
        with open(base + ".gv", "w") as f:
            f.write(dot.source)
        print(f"  note: could not render the graph ({type(error).__name__}): {str(error).splitlines()[0]}")
        print("        install Graphviz's `dot` (e.g. sudo apt-get install graphviz) for the PNG; "
              f"the DOT text is in {base}.gv")
        return base + ".gv"


def make_model():
    return nn.MLP([64, 128, 64, 10], dropout=0.2)


def gradient_check(model, loss_fn, X, y):
    """gradcheck of the loss with respect to the input pixels, on a float64 copy of the model."""
    model64 = make_model().double()
    model64.load_state_dict(model.state_dict())
    model64.eval()
    x = X[:3].double().requires_grad_()
    return ag.gradcheck(lambda inp: loss_fn(model64(inp), y[:3]), [x])


class EpochTimer(Callback):
    """The seconds each epoch of ``fit`` takes, validation included when there is any."""

    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, state):
        self.started = time.perf_counter()

    def on_epoch_end(self, state, logs):
        self.seconds.append(time.perf_counter() - self.started)


def time_compiled_training(X, y, batch_size, lr, seed, epochs=6, rounds=2):
    """Median seconds per training epoch of fit, eager and ``compile=True``, on the demo's model.

    Each run trains a new model from the same seed on the same batches for ``epochs`` epochs; the first
    epoch of every run is not timed (it captures the compiled step, and in the first run anything the
    kernels still compile). Runs alternate eager and compiled ``rounds`` times, so a machine that is
    busier for a moment slows both. Returns ``(eager seconds, compiled seconds, same losses)``."""
    seconds = {False: [], True: []}
    losses = {}
    for _ in range(rounds):
        for compile in (False, True):
            ag.manual_seed(seed)
            loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
            model = make_model()
            timer = EpochTimer()
            history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr), loader,
                          epochs=epochs, metrics=(), callbacks=[timer], progress=False, compile=compile)
            seconds[compile].extend(timer.seconds[1:])
            losses[compile] = history["loss"]
    same = all(abs(a - b) <= 1e-6 * max(1.0, abs(a)) for a, b in zip(losses[False], losses[True]))
    return statistics.median(seconds[False]), statistics.median(seconds[True]), same


def main(epochs=25, batch_size=32, lr=3e-3, seed=0, out_dir=OUT_DIR, progress=True, draw=True):
    start = time.perf_counter()
    ag.manual_seed(seed)  # one seed for the initial weights, the shuffling and the dropout
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = load_data(seed)
    train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(X_val, y_val), batch_size=256)
    test_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=256)

    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    print(f"Handwritten digits (UCI, 8×8): {len(X_train)} train / {len(X_val)} validation / {len(X_test)} "
          f"test images")
    print(f"{model}\n{model.num_parameters():,} parameters, Adam (lr = {lr:g}, cosine schedule), batch "
          f"{batch_size}, {epochs} epochs")

    history = fit(model, loss_fn, optimizer, train_loader, val_loader, epochs=epochs, scheduler=scheduler,
                  progress=progress)
    last = {k: v[-1] for k, v in history.history.items()}
    print(f"after {len(history)} epochs: loss {last['loss']:.4f}, validation loss {last['val_loss']:.4f}, "
          f"validation accuracy {last['val_accuracy']:.3f}")

    test = evaluate(model, test_loader, loss_fn, metrics=("accuracy",))
    print(f"\nTest accuracy: {test['accuracy']:.2%} ({round(test['accuracy'] * len(X_test))}/{len(X_test)})")

    os.makedirs(out_dir, exist_ok=True)
    files = [history.plot(path=os.path.join(out_dir, "loss_curve.png"),
                          title="MLP on the handwritten digits") and os.path.join(out_dir, "loss_curve.png")]
    if draw:
        files.append(save_backprop_graph(model, loss_fn, X_test, y_test, out_dir))
    print("wrote " + ", ".join(files))

    ok = gradient_check(model, loss_fn, X_test, y_test)
    print(f"gradcheck of ∂loss/∂pixels through the trained MLP, float64: {'passed' if ok else 'FAILED'}")

    eager, compiled, same = time_compiled_training(X_train, y_train, batch_size, lr, seed)
    batches = len(train_loader)
    print(f"\nfit(..., compile=True), each batch's step captured once and replayed: an epoch of {batches} "
          f"batches in {compiled * 1e3:.1f} ms,\neager {eager * 1e3:.1f} ms: {eager / compiled:.2f}x as fast "
          f"(medians over the same epochs; {'the same losses' if same else 'DIFFERENT losses'} as eager)")
    seconds = time.perf_counter() - start
    print(f"done in {seconds:.1f} s")
    return {"test_accuracy": test["accuracy"], "history": history, "files": files, "seconds": seconds,
            "compile_speedup": eager / compiled, "compiled_same_losses": same}


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=OUT_DIR, help="folder for the images (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse(sys.argv[1:])
    main(epochs=args.epochs, seed=args.seed, out_dir=args.out, progress=not args.no_progress)
