"""Host call lowering: a host call whose function names a faster form with the same effect
(``tracing.host_call(replay=...)``) calls that form instead.

The optimizers name their fused step: at each replay ``Optimizer.step`` still runs its Python (the
hyper-parameters and step counts are read then), but the update of each parameter is one kernel pass
(``autograd.fused_sgd_``, ``autograd.fused_adam_``) instead of one kernel per operation of the rule.
"""
from ..program import Host


def lower_host_calls(program):
    lowered = []
    for instruction in program.instructions:
        if not isinstance(instruction, Host):
            continue
        form = getattr(instruction.function, "replay_form", None)
        if form is None:
            continue
        instruction.fused_from = (instruction.label,)
        instruction.function = form
        instruction.label = f"{instruction.label} (fused form)"
        lowered.append(instruction.fused_from[0])
    program.passes.append(("host_calls", f"{len(lowered)} host calls run their fused form"
                           + (f": {', '.join(lowered)}" if lowered else "")))
