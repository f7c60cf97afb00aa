"""Warn when another distribution that installs a package named ``autograd`` is installed beside numbagrad.

numbagrad's engine is imported as ``autograd``, the import name of HIPS autograd (the PyPI distribution
``autograd``, a dependency of some scientific packages). Both installed in one environment write the
same ``autograd/`` folder, so ``import autograd`` silently loads one of them, or a mix of the files of
both. pip cannot tell: the distribution names differ. So at import numbagrad looks at the installed
metadata on ``sys.path`` (a directory listing per entry, no file is read unless a candidate is found)
and warns with :class:`AutogradNameClashWarning`, saying what to do.
"""
import os
import sys
import warnings

__all__ = ["AutogradNameClashWarning", "find_clashes", "warn_if_clashing"]

#: Distributions known to install a top-level ``autograd`` package (normalised names).
CLASHING_DISTRIBUTIONS = ("autograd",)


class AutogradNameClashWarning(UserWarning):
    """Another distribution installs a package named ``autograd`` in this environment."""


_PREFIXES = tuple({name[:8] for name in CLASHING_DISTRIBUTIONS})
_STDLIB = os.path.dirname(os.__file__)
_STDLIB_DYNLOAD = os.path.join(_STDLIB, "lib-dynload")


def _normalised(name):
    return name.lower().replace("_", "-").replace(".", "-")


def _version_of(metadata_dir):
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(metadata_dir, filename), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return None


def find_clashes(paths=None):
    """``(distribution, version or None, metadata folder)`` for each clashing distribution installed on
    ``paths`` (``sys.path`` by default)."""
    found = []
    for entry in sys.path if paths is None else paths:
        if entry == _STDLIB or entry.startswith(_STDLIB_DYNLOAD):  # no distribution installs there
            continue
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a missing folder
            continue
        for name in names:
            if not name[:8].lower().startswith(_PREFIXES):  # most names: one slice, one comparison
                continue
            stem, extension = os.path.splitext(name)
            if extension not in (".dist-info", ".egg-info"):
                continue
            distribution = _normalised(stem.split("-", 1)[0])
            if distribution in CLASHING_DISTRIBUTIONS:
                folder = os.path.join(entry, name)
                found.append((distribution, _version_of(folder), folder))
    return found


def warn_if_clashing(paths=None):
    """Warn once per clashing distribution; returns what :func:`find_clashes` found."""
    clashes = find_clashes(paths)
    for distribution, version, folder in clashes:
        release = f" {version}" if version else ""
        warnings.warn(
            f"numbagrad: the distribution '{distribution}{release}' (HIPS autograd) is also installed in this "
            f"environment ({folder}). It installs a package with the same import name, `autograd`, as "
            f"numbagrad's engine, so the two overwrite each other's files and `import autograd` may load "
            f"either or a mix of both. Keep numbagrad in its own virtual environment (make setup creates "
            f".venv), or uninstall one of them (`pip uninstall autograd`, then reinstall numbagrad).",
            AutogradNameClashWarning, stacklevel=3)
    return clashes
