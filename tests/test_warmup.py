"""The warm-up command compiles every kernel a first training step needs."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A fresh process warms up (kernels load from numba's disk cache, or compile), notes what is compiled,
# trains a small MLP for a step with SGD (momentum) and Adam (amsgrad), and prints any kernel that
# compiled something new during the step: the warm-up should have left nothing to compile.
_STEP = """
import autograd as ag, nn, optim
from autograd import warmup
from autograd.kernels import warmup as kernel_warmup
warmup.warm_up(("float32",))
before = {name: len(d.signatures) for name, d in kernel_warmup.dispatchers().items()}
ag.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 4))
x, y = ag.randn(32, 20), ag.randint(0, 4, (32,))
for opt in (optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4),
            optim.Adam(model.parameters(), lr=1e-3, amsgrad=True), optim.AdamW(model.parameters())):
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
after = {name: len(d.signatures) for name, d in kernel_warmup.dispatchers().items()}
print(sorted(name for name in after if after[name] != before[name]))
"""


def test_warm_up_leaves_nothing_for_a_first_training_step_to_compile():
    result = subprocess.run([sys.executable, "-c", _STEP], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"compiled during the first step: {result.stdout}"


def test_warmup_command_runs():
    result = subprocess.run([sys.executable, "-m", "autograd.warmup", "float32"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "numbagrad kernels ready for float32" in result.stdout
