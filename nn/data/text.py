"""A small offline text corpus and the vocabulary helpers of a language model.

``load_sonnets()`` returns fifteen of Shakespeare's sonnets (public domain, shipped with the package:
see ``SONNETS_LICENSE.txt``), about 9,000 characters. ``CharVocab`` and ``WordVocab`` turn text into
int64 token ids and back; ``next_token_windows`` cuts a token sequence into (context, next tokens)
training pairs; ``sample_next`` draws the next token from logits with a temperature and top-k, on
numbagrad's seeded generator.
"""
import re
from importlib import resources

import numpy as np

import autograd as ag


def load_sonnets():
    """The corpus as one string (lines separated by ``\\n``, sonnets by a blank line)."""
    return resources.files(__package__).joinpath("sonnets.txt").read_text(encoding="utf-8")


class _Vocab:
    def __init__(self, tokens, unknown=None):
        self.itos = list(tokens)
        if unknown is not None and unknown not in self.itos:
            self.itos.append(unknown)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.unknown = unknown

    def __len__(self):
        return len(self.itos)

    def _ids(self, tokens):
        ids = []
        for t in tokens:
            i = self.stoi.get(t)
            if i is None:
                if self.unknown is None:
                    raise KeyError(f"{type(self).__name__}: token {t!r} is not in the vocabulary (build it with "
                                   f"unknown='<unk>' to map unseen tokens to one id)")
                i = self.stoi[self.unknown]
            ids.append(i)
        return ag.tensor(np.array(ids, dtype=np.int64))

    def _tokens(self, ids):
        ids = ids.tolist() if isinstance(ids, ag.Tensor) else list(ids)
        n = len(self.itos)
        bad = [i for i in ids if not 0 <= int(i) < n]
        if bad:
            raise IndexError(f"{type(self).__name__}: id {bad[0]} is out of range for a vocabulary of {n}")
        return [self.itos[int(i)] for i in ids]


class CharVocab(_Vocab):
    """One id per distinct character of ``text``, in sorted order: ``encode(str) -> int64 Tensor``,
    ``decode(ids) -> str``."""

    def __init__(self, text, unknown=None):
        super().__init__(sorted(set(text)), unknown)

    def encode(self, text):
        return self._ids(text)

    def decode(self, ids):
        return "".join(self._tokens(ids))


class WordVocab(_Vocab):
    """One id per distinct word or punctuation mark (``tokenize``), most frequent first, keeping those
    seen at least ``min_count`` times; rarer ones map to ``unknown``."""

    def __init__(self, text, min_count=1, unknown="<unk>"):
        counts = {}
        for token in self.tokenize(text):
            counts[token] = counts.get(token, 0) + 1
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        super().__init__(kept, unknown)

    @staticmethod
    def tokenize(text):
        """Lower-cased words (with inner apostrophes and hyphens), punctuation marks and newlines."""
        return re.findall(r"[a-z]+(?:['\-][a-z]+)*|[^\sa-z]|\n", text.lower())

    def encode(self, text):
        return self._ids(self.tokenize(text))

    def decode(self, ids):
        out = ""
        for token in self._tokens(ids):
            out += token if (not out or token in ",.;:!?'\n" or out.endswith("\n")) else " " + token
        return out


def next_token_windows(ids, context):
    """(X, Y): every window of ``context`` consecutive ids and the same window shifted by one (the
    next token at each position), as int64 tensors of shape (len(ids) − context, context)."""
    data = ids.numpy() if isinstance(ids, ag.Tensor) else np.asarray(ids, dtype=np.int64)
    if data.ndim != 1 or len(data) <= context:
        raise ValueError(f"next_token_windows: need a 1-D sequence longer than context={context}, got shape "
                         f"{data.shape}")
    starts = np.arange(len(data) - context)
    window = starts[:, None] + np.arange(context)
    return ag.tensor(data[window]), ag.tensor(data[window + 1])


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """Token ids drawn from ``softmax(logits / temperature)`` over the last dim (one per row), keeping
    only the ``top_k`` most likely tokens when given; ``temperature=0`` takes the argmax."""
    with ag.no_grad():
        if temperature < 0:
            raise ValueError(f"sample_next: temperature must be >= 0, got {temperature}")
        if temperature == 0:
            return logits.argmax(-1)
        scaled = logits / temperature
        if top_k is not None:
            k = min(int(top_k), scaled.shape[-1])
            kth = scaled.topk(k, -1).values[..., -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = scaled.softmax(-1)
        rows = probs.reshape(-1, probs.shape[-1])
        return ag.multinomial(rows, 1, generator=generator).reshape(probs.shape[:-1])
