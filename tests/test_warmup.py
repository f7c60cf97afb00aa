"""The warm-up command compiles every kernel a first training step needs."""
import numpy as np

from autograd import blas, kernels, warmup


def test_warm_up_compiles_the_training_kernels():
    warmup.warm_up(("float32",))
    for name in ("_sigmoid_fwd_f32", "_relu_fwd", "_relu_bwd", "_softmax_f32", "_log_softmax_bwd_f32",
                 "_addcmul_kernel", "_sgd_step_kernel", "_axpy_kernel", "_bias_relu_inplace", "_cross_entropy_rows",
                 "_cross_entropy_grad_f32"):
        assert getattr(kernels, name).signatures, f"{name} was not compiled"
    adam = [k for n, k in vars(kernels).items() if n.startswith("_adam") and hasattr(k, "signatures")]
    assert adam and any(k.signatures for k in adam)
    if blas.axpy_function(np.dtype(np.float32)) is not None:  # numpy's BLAS found: large SGD updates use it
        assert kernels._blas_axpy_kernel.signatures, "_blas_axpy_kernel was not compiled"
