"""Training steps of sequence models, float32: numbagrad vs PyTorch eager, each in its own process.

* tiny causal transformer: token + position Embedding, 2 pre-norm TransformerEncoderLayers (d_model 64,
  4 heads, feed-forward 256, GELU, dropout 0), a causal mask, Linear head; context 32, batch 16,
  vocabulary 65; AdamW.
* LSTM language model: Embedding(65, 128) → 2-layer LSTM (hidden 128) → Linear(128, 65); sequence 32,
  batch 16; Adam.

A step is zero_grad, forward, cross-entropy over every position, backward and the optimizer update. Both
engines start from the same weights (drawn with numpy, loaded by state_dict key) and the same batch.

    python -m benchmarks sequence [--quick]
"""
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

VOCAB = 65


def _engine(engine):
    if engine == "numbagrad":
        import autograd as lib
        import nn
        import optim
        return lib, nn, optim, nn.functional
    import torch as lib
    return lib, lib.nn, lib.optim, lib.nn.functional


def _same_weights(lib, model, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    state = model.state_dict()
    model.load_state_dict({k: lib.tensor(rng.uniform(-0.1, 0.1, tuple(v.shape)).astype(np.float32))
                           for k, v in state.items()})


def _batch(lib, batch, context, seed):
    import numpy as np
    ids = np.random.default_rng(seed).integers(0, VOCAB, (batch, context + 1))
    return lib.tensor(ids[:, :-1]), lib.tensor(ids[:, 1:])


def _step(model, forward, optimizer, F, x, y):
    def run():
        optimizer.zero_grad()
        logits = forward(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        optimizer.step()
        return loss
    return run


def transformer_step(engine, d_model=64, heads=4, layers=2, context=32, batch=16):
    lib, nn, optim, F = _engine(engine)

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(VOCAB, d_model)
            self.position = nn.Embedding(context, d_model)
            layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, VOCAB)

        def forward(self, ids):
            h = self.token(ids) + self.position(positions)
            return self.head(self.norm(self.blocks(h, mask=mask, is_causal=True)))

    positions = lib.arange(context)
    mask = lib.triu(lib.full((context, context), float("-inf")), 1)
    model = TinyTransformer()
    _same_weights(lib, model, 0)
    x, y = _batch(lib, batch, context, 1)
    return _step(model, model, optim.AdamW(model.parameters(), lr=1e-3), F, x, y)


def lstm_step(engine, hidden=128, layers=2, context=32, batch=16):
    lib, nn, optim, F = _engine(engine)

    class LSTMLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, hidden)
            self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, VOCAB)

        def forward(self, ids):
            return self.head(self.lstm(self.embed(ids))[0])

    model = LSTMLanguageModel()
    _same_weights(lib, model, 0)
    x, y = _batch(lib, batch, context, 1)
    return _step(model, model, optim.Adam(model.parameters(), lr=1e-3), F, x, y)


CASES = [("tiny causal transformer (2 layers, d_model 64, 4 heads, context 32, batch 16), AdamW",
          "benchmarks.bench_sequence:transformer_step"),
         ("2-layer LSTM LM (hidden 128, sequence 32, batch 16), Adam", "benchmarks.bench_sequence:lstm_step")]


def main(quick=False):
    notes, rows = {}, []
    with Sides(notes) as sides:
        for label, case in CASES:
            fns = {"ours": sides.case("numbagrad", case, engine="numbagrad"),
                   "torch": sides.case("torch", case, engine="torch")}
            times = interleaved_times(fns, repeat=3 if quick else 11, min_time=0.05, settle=SETTLE)
            ours, theirs, ratio = paired(times, "ours", "torch")
            rows.append([label, fmt_time(ours), fmt_time(theirs), fmt_ratio(ratio)])
    print_table("Sequence-model training steps, float32 (medians; ours/torch = median of paired ratios, target "
                "<= 0.8x)", ["step", "numbagrad", "torch eager", "ours/torch"], rows, left=1)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
