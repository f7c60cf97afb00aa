"""Dead work removal: an instruction whose outputs nothing reads, and which has no effect of its own
(a write, a host call, a random draw, a check), is dropped; an op's forward keeps only the arrays its
``ctx`` saved that a later instruction reads.

Walking the program backwards, a buffer is *live* if the result or a kept instruction reads it.
"""
from ..program import Call, template_buffers


def remove_dead_work(program):
    live = {id(b) for b in template_buffers(program.result)}
    kept, dropped, trimmed = [], 0, 0
    for instruction in reversed(program.instructions):
        needed = instruction.has_effect or any(id(b) in live for b in instruction.outputs)
        if not needed:
            dropped += 1
            continue
        if isinstance(instruction, Call) and hasattr(instruction.function, "extras"):
            trimmed += _trim_extras(instruction, live)
        for b in instruction.buffers_read():
            live.add(id(b))
        kept.append(instruction)
    kept.reverse()
    program.instructions = kept
    program.passes.append(("dead_work", f"dropped {dropped} instructions, {trimmed} saved arrays unread"))


def _trim_extras(call, live):
    """Keep the output and only the saved arrays some later instruction reads."""
    forward = call.function
    keep = [i for i, b in enumerate(call.outputs[1:]) if id(b) in live]
    removed = len(forward.extras) - len(keep)
    if removed:
        forward.extras = [forward.extras[i] for i in keep]
        call.outputs = call.outputs[:1] + [call.outputs[1 + i] for i in keep]
    return removed
