"""HIPS autograd (the distribution `autograd`) installed beside numbagrad shares its import name: import
warns, naming the distribution, its version and folder, and what to do; an environment without it stays
silent."""
import os
import subprocess
import sys

import pytest

from autograd.name_clash import AutogradNameClashWarning, find_clashes, warn_if_clashing


def fake_site(tmp_path, folder, version="1.7.0"):
    site = tmp_path / "site-packages"
    (site / folder).mkdir(parents=True)
    (site / folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: autograd\nVersion: {version}\n\n"
                                            "Efficiently computes derivatives of NumPy code.\n")
    (site / "numbagrad-0.1.0.dist-info").mkdir()
    (site / "autograd_extras-0.1.dist-info").mkdir()   # another name that merely starts alike
    return site


@pytest.mark.parametrize("folder", ["autograd-1.7.0.dist-info", "autograd-1.7.0-py3.11.egg-info"])
def test_a_clashing_distribution_is_found_with_its_version(tmp_path, folder):
    site = fake_site(tmp_path, folder)
    assert find_clashes([str(site)]) == [("autograd", "1.7.0", str(site / folder))]


def test_the_warning_says_what_clashes_and_what_to_do(tmp_path):
    site = fake_site(tmp_path, "autograd-1.7.0.dist-info")
    with pytest.warns(AutogradNameClashWarning) as record:
        warn_if_clashing([str(site)])
    message = str(record[0].message)
    assert "'autograd 1.7.0' (HIPS autograd)" in message and str(site) in message
    assert "same import name, `autograd`" in message and "pip uninstall autograd" in message


def test_no_clash_no_warning(tmp_path, recwarn):
    site = tmp_path / "site-packages"
    (site / "numbagrad-0.1.0.dist-info").mkdir(parents=True)
    assert warn_if_clashing([str(site), str(tmp_path / "missing"), str(tmp_path / "a.zip")]) == []
    assert not [w for w in recwarn if issubclass(w.category, AutogradNameClashWarning)]


def test_import_warns_when_hips_autograd_is_on_the_path(tmp_path):
    site = fake_site(tmp_path, "autograd-1.7.0.dist-info")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(site)]))
    code = "import autograd; print(autograd.tensor([1.0]))"
    result = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                            env=env, check=True, cwd=str(tmp_path))
    assert "AutogradNameClashWarning" in result.stderr and "HIPS autograd" in result.stderr
    assert "tensor([1.])" in result.stdout
    env["PYTHONPATH"] = root
    quiet = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                           env=env, check=True, cwd=str(tmp_path))
    assert "AutogradNameClashWarning" not in quiet.stderr
