"""The allocator setting that keeps freed array memory for reuse (autograd/allocator.py)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Allocate and free 4 MB outputs the way ops do, and count the page faults of the last 20 rounds.
PROBE = """
import resource, numpy as np
import autograd
x = np.ones(1_000_000, np.float32)
for _ in range(10):
    y = x * 2.0; z = y + 1.0; del y, z
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    y = x * 2.0; z = y + 1.0; del y, z
print(autograd.allocator.tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(**env):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the setting is glibc's")
def test_freed_outputs_are_reused_without_page_faults():
    tuned, faults = _probe()
    assert tuned
    assert faults < 200      # untuned glibc: ~1,000 faults per 4 MB array, 40,000 here


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the setting is glibc's")
def test_the_setting_can_be_turned_off():
    tuned, faults = _probe(NUMBAGRAD_TUNE_MALLOC="0")
    assert not tuned
    assert faults > 10_000   # each round faults its arrays in again
