"""The passes over a captured program, each in its own file, run in this order by :func:`optimize`:

1. ``dead_work``: drop what no result, write or host call needs;
2. ``fusion``: merge an elementwise call (or a column sum) into the call that made its input;
3. ``host_calls``: a host call with a fused form (the optimizer's step) calls that form;
4. ``buffers``: free each buffer after its last use and work out the program's peak memory.
"""
from .buffers import plan_buffers
from .dead_work import remove_dead_work
from .fusion import fuse_elementwise
from .host_calls import lower_host_calls

PASSES = (remove_dead_work, fuse_elementwise, lower_host_calls, plan_buffers)


def optimize(program):
    """Run every pass over ``program`` in place; each notes what it did in ``program.passes``."""
    for run in PASSES:
        run(program)
    return program
