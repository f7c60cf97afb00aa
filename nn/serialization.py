"""``nn.save(state_dict, path)`` / ``nn.load(path)``: state dicts as ``.npz`` archives that never unpickle.

Keys are the state-dict keys (PyTorch's names), so weights move between numbagrad and PyTorch through
numpy: ``torch_model.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in nn.load(p).items()})``.
A corrupt, foreign or oversized file raises ``autograd.serialization.SerializationError`` (a
``ValueError``); ``nn.load`` allocates at most ``max_bytes`` of tensor data (1 GiB by default,
``autograd.serialization.DEFAULT_MAX_BYTES``; ``max_bytes=None`` for a trusted file of any size).
"""
from autograd.serialization import DEFAULT_MAX_BYTES, SerializationError, load_tensors, save_tensors  # noqa: F401


def save(state_dict, path):
    """Write ``state_dict`` (name -> Tensor) to ``path`` (an ``.npz`` file, exactly that name). Every key
    comes back exactly from ``load``; a key a zip cannot keep (a NUL character) is refused here."""
    save_tensors(state_dict, path)


def load(path, max_bytes=DEFAULT_MAX_BYTES):
    """Read a state dict written by ``save``: a dict of name -> Tensor, bit-identical to what was saved.
    Files holding more than ``max_bytes`` bytes of arrays are refused before anything is allocated."""
    return load_tensors(path, max_bytes=max_bytes)
