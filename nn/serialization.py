"""``nn.save(state_dict, path)`` / ``nn.load(path)``: state dicts as ``.npz`` archives that never unpickle.

Keys are the state-dict keys (PyTorch's names), so weights move between numbagrad and PyTorch through
numpy: ``torch_model.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in nn.load(p).items()})``.
A corrupt or foreign file raises ``autograd.serialization.SerializationError`` (a ``ValueError``).
"""
from autograd.serialization import SerializationError, load_tensors, save_tensors  # noqa: F401


def save(state_dict, path):
    """Write ``state_dict`` (name -> Tensor) to ``path`` (an ``.npz`` file, exactly that name)."""
    save_tensors(state_dict, path)


def load(path):
    """Read a state dict written by ``save``: a dict of name -> Tensor, bit-identical to what was saved."""
    return load_tensors(path)
