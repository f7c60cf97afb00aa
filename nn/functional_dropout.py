"""``dropout``, the function: used by ``nn.functional`` (which exports it) and by attention."""
import autograd as ag


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1−p), so
    the expectation is unchanged; identity when not ``training``. The mask comes from the library's
    seeded generator (``autograd.manual_seed``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = ag.bernoulli(ag.full(input.shape, 1.0 - p, dtype=input.dtype))
    return input * (keep * (1.0 / (1.0 - p)))
