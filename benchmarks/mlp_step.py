"""Run as a script in a fresh process (``python -m benchmarks.mlp_step``, by bench_startup): the seconds of
``import autograd`` and of the first training step of a 3-layer MLP (784-128-64-10, batch 64, written
with tensor ops: benchmarks.cases.raw_mlp_step), printed as two numbers."""
import time

T0 = time.perf_counter()
import autograd  # noqa: E402, F401  (timed: what a new process pays)

T_IMPORT = time.perf_counter() - T0

if __name__ == "__main__":
    from benchmarks.cases import raw_mlp_step
    t = time.perf_counter()
    raw_mlp_step("numbagrad", 64)()
    first = time.perf_counter() - t
    print(f"{T_IMPORT:.6f} {first:.6f}")
