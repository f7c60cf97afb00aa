"""``Parameter``: a Tensor that a Module registers as learnable when assigned as its attribute."""
import autograd as ag
from autograd import Tensor
from autograd.tensor import as_array


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that ``Module`` collects in ``parameters()``.

    Built from a Tensor it shares that tensor's memory (as ``torch.nn.Parameter`` does).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = ag.empty(0)
        self._data = as_array(data)  # a Tensor's own memory, not a copy
        self.grad = None
        self.grad_fn = None
        self._version = data._version if isinstance(data, Tensor) else [0]
        self._hooks = None
        self.name = None
        self._fw_tangents = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        copy = Parameter(self.detach().clone(), self.requires_grad)
        copy.name = self.name
        copy.__dict__.update(self.__dict__)
        memo[id(self)] = copy
        return copy
