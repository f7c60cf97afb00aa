"""``autograd.compile``: capture a training step once and replay its kernels.

* ``capture.py``: the recorder that writes down what a step computes while it runs eagerly;
* ``program.py``: the program (buffers and instructions), its listing and its replay source;
* ``passes/``: the passes over a program (one file each);
* ``compiled.py``: ``compile(fn)``, the guards, and the choice between capture and replay.
"""
from .capture import CaptureError
from .compiled import CompiledFunction, compile

__all__ = ["compile", "CompiledFunction", "CaptureError"]
