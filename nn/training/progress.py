"""The progress bar of ``fit``: tqdm on a terminal, nothing elsewhere (a pipe, a log file, CI), so
output never garbles a log and never fails for want of a terminal."""
import os
import shutil
import sys


def _in_ci():
    value = os.environ.get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def progress_enabled(progress, stream=None):
    """Whether to draw bars: ``progress`` True means on a terminal outside CI, ``"always"`` forces them
    (e.g. in a notebook), False never."""
    if progress == "always":
        return True
    if not progress:
        return False
    stream = sys.stderr if stream is None else stream
    if stream is None or _in_ci():
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or odd stream
        return False


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text, refresh=True):
        pass

    def close(self):
        pass


def make_bar(enabled, total, desc):
    """A tqdm bar over ``total`` batches, or a stand-in that does nothing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm  # text bars: work in a terminal and in a notebook alike
    except ImportError:  # tqdm is a dependency, but a missing bar is no reason to stop training
        return _NoBar()
    # A terminal that reports no size (0 columns, e.g. under `script`) would get an empty bar.
    size = shutil.get_terminal_size((100, 24))
    return tqdm(total=total, desc=desc, unit="batch", leave=True, file=sys.stderr,
                ncols=size.columns if size.columns >= 40 else 100, nrows=max(size.lines, 10),
                bar_format="{desc}: {percentage:3.0f}%|{bar:12}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")


def format_logs(logs):
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) and k != "lr" else f"{k}={v:.3g}"
                     for k, v in logs.items())
