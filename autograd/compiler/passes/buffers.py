"""Buffer planning: each buffer is freed right after the last instruction that reads it (a ``del`` in
the replay source), so its memory goes back to the allocator for the buffers made after it; and the
program's peak memory is worked out: the most bytes held at once by the buffers the step allocates
(not counting what it reads from outside, views, or what a host call allocates).
"""
from ..program import Read, template_buffers


def plan_buffers(program):
    kept = {id(b) for b in template_buffers(program.result)}
    last_use = {}
    for position, instruction in enumerate(program.instructions):
        for b in instruction.outputs:
            last_use[id(b)] = (position, b)
        for b in instruction.buffers_read():
            last_use[id(b)] = (position, b)
    frees = {}
    for key, (position, buffer) in last_use.items():
        if key not in kept:
            frees.setdefault(position, []).append(buffer)
    program.frees = {p: sorted(bs, key=lambda b: b.index) for p, bs in frees.items()}
    held = peak = 0
    for position, instruction in enumerate(program.instructions):
        if not isinstance(instruction, Read):
            held += sum(b.nbytes for b in instruction.outputs if b.owns_memory)
        peak = max(peak, held)
        held -= sum(b.nbytes for b in program.frees.get(position, ()) if b.owns_memory
                    and not isinstance(b.producer, Read))
    program.peak_bytes = peak
    freed = sum(len(v) for v in program.frees.values())
    program.passes.append(("buffers", f"{freed} buffers freed after their last use; peak {peak} bytes"))
