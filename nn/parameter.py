"""``Parameter``: a Tensor that a Module registers as learnable when assigned as its attribute."""
import autograd as ag
from autograd import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default and that ``Module`` collects in ``parameters()``.

    Built from a Tensor it shares that tensor's memory (as ``torch.nn.Parameter`` does).
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = ag.empty(0)
        elif not isinstance(data, Tensor):
            data = ag.tensor(data)
        return data.detach().as_subclass(cls).requires_grad_(requires_grad)

    def __init__(self, data=None, requires_grad=True):
        pass  # __new__ made it: Tensor.__init__ would copy the data

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        copy = Parameter(self.detach().clone(), self.requires_grad)
        copy.name = self.name
        copy.__dict__.update(self.__dict__)
        memo[id(self)] = copy
        return copy
