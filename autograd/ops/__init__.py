"""Differentiable ops, one file per family. Each op is a ``Function`` subclass (forward on arrays,
backward with Tensor ops) plus the user-facing function that validates arguments and calls ``apply``."""
