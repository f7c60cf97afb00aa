"""Buffer planning: reuse by lifetime, and the program's peak memory.

* A call whose function can write its result into the memory of one of its inputs (``writes_into``:
  the fused kernels) does so when that input is dead after the call (read by nothing later, not
  returned, made by the step itself): the result takes the input's memory instead of new memory.
* Each buffer is freed right after the last instruction that reads it (a ``del`` in the replay
  source), so its memory goes back to the allocator for the buffers made after it.
* The peak is the most bytes held at once by the buffers the step allocates (not counting what it
  reads from outside, views, or what a host call allocates).
"""
from ..program import Buffer, Call, Read, template_buffers


class WritingInto:
    """``function(*arrays, into=arrays[index])``: the result goes into that input's memory."""

    def __init__(self, function, index):
        self.function, self.index = function, index
        self.__name__ = getattr(function, "__name__", "call")

    def __call__(self, *arrays):
        return self.function(*arrays, into=arrays[self.index])


def plan_buffers(program):
    kept = {id(b) for b in template_buffers(program.result)}
    last_use = _last_uses(program)
    reused = _reuse_dead_inputs(program, last_use, kept)
    frees = {}
    for key, (position, buffer) in last_use.items():
        if key not in kept:
            frees.setdefault(position, []).append(buffer)
    program.frees = {p: sorted(bs, key=lambda b: b.index) for p, bs in frees.items()}
    held = peak = 0
    for position, instruction in enumerate(program.instructions):
        into = reused.get(position)
        if not isinstance(instruction, Read):
            held += sum(b.nbytes for b in instruction.outputs if b.owns_memory and b is not into)
        peak = max(peak, held)
        held -= sum(b.nbytes for b in program.frees.get(position, ()) if b.owns_memory
                    and not isinstance(b.producer, Read) and not (into is not None and b is instruction.inputs[
                        instruction.function.index]))
    program.peak_bytes = peak
    freed = sum(len(v) for v in program.frees.values())
    program.passes.append(("buffers", f"{len(reused)} results written into a dead input's memory, {freed} "
                           f"buffers freed after their last use; peak {peak} bytes"))


def _last_uses(program):
    last_use = {}
    for position, instruction in enumerate(program.instructions):
        for b in instruction.outputs:
            last_use[id(b)] = (position, b)
        for b in instruction.buffers_read():
            last_use[id(b)] = (position, b)
    return last_use


def _reuse_dead_inputs(program, last_use, kept):
    """{position: the output that now lives in a dead input's memory}."""
    reused = {}
    for position, instruction in enumerate(program.instructions):
        index = getattr(instruction.function, "writes_into", None) if isinstance(instruction, Call) else None
        if index is None or not instruction.outputs:
            continue
        source, result = instruction.inputs[index], instruction.outputs[0]
        if not isinstance(source, Buffer) or id(source) in kept or not source.owns_memory \
                or source.producer is None or isinstance(source.producer, Read) \
                or last_use[id(source)][0] != position or instruction.inputs.count(source) > 1 \
                or (source.shape, source.dtype) != (result.shape, result.dtype):
            continue
        instruction.function = WritingInto(instruction.function, index)
        instruction.into = source
        reused[position] = result
    return reused
