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


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
COMPACT_FORMAT = "{desc}: {n_fmt}/{total_fmt} [{elapsed}{postfix}]"  # a narrow terminal: no bar
MIN_BAR = 6  # the narrowest bar still worth drawing, in characters

# Shorter names for the usual metrics, used only when the full line would not fit the terminal.
_SHORT_NAMES = (("val_accuracy", "val_acc"), ("accuracy", "acc"))


def make_bar(enabled, total, desc, columns=None, file=None):
    """A tqdm bar over ``total`` batches that fits the terminal (``columns`` wide, by default the
    terminal's width), or a stand-in that does nothing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm  # text bars: work in a terminal and in a notebook alike
    except ImportError:  # tqdm is a dependency, but a missing bar is no reason to stop training
        return _NoBar()
    if columns is None:
        # A terminal that reports no size (0 columns, e.g. under `script`) would get an empty bar.
        size = shutil.get_terminal_size((100, 24))
        columns = size.columns if size.columns >= 40 else 100
    bar = tqdm(total=total, desc=desc, unit="batch", leave=True, file=sys.stderr if file is None else file,
               ncols=columns, bar_format=BAR_FORMAT)
    return _FittedBar(bar, columns)


class _FittedBar:
    """A tqdm bar whose line fits the terminal: tqdm itself would cut it at the terminal's width, mid-word
    ("val_accurac"). The epoch's metrics matter most, so as the line narrows they take the usual
    metrics' short names, then the bar and percentage go (the count stays), then a digit, then the last
    metrics."""

    def __init__(self, bar, columns):
        self.bar, self.columns = bar, columns

    def update(self, n=1):
        self.bar.update(n)

    def close(self):
        self.bar.close()

    def set_postfix_str(self, text, refresh=True):
        short = _short_names(text)
        for bar_format, candidate in ((BAR_FORMAT, text), (BAR_FORMAT, short), (COMPACT_FORMAT, short)):
            if len(candidate) <= self._room(bar_format):
                break
        else:
            bar_format = COMPACT_FORMAT
            candidate = fit_postfix(text, self._room(bar_format))
        self.bar.bar_format = bar_format
        self.bar.set_postfix_str(candidate, refresh=refresh)

    def _room(self, bar_format):
        """Characters left for the postfix beside the other fields (and a bar of MIN_BAR)."""
        fields = dict(self.bar.format_dict, postfix=None, ncols=None,
                      bar_format=bar_format.replace("{bar}", "{bar:%d}" % MIN_BAR))
        return self.columns - len(self.bar.format_meter(**fields)) - len(", ")


def _short_names(text):
    for long_name, short_name in _SHORT_NAMES:
        text = text.replace(long_name + "=", short_name + "=")
    return text


def fit_postfix(text, width):
    """``text`` (``name=value`` fields) in at most ``width`` characters: as it is if it fits, else with
    the usual metrics' short names, then with one digit less, then without its last fields."""
    if len(text) <= width:
        return text
    short = _short_names(text)
    if len(short) <= width:
        return short
    fields = [_fewer_digits(field) for field in short.split()]
    while fields and len(" ".join(fields)) > width:
        fields.pop()
    return " ".join(fields)


def _fewer_digits(field):
    name, _, value = field.partition("=")
    if "." in value and len(value.split(".")[1]) > 3:
        try:
            return f"{name}={float(value):.3f}"
        except ValueError:
            return field
    return field


def format_logs(logs):
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) and k != "lr" else f"{k}={v:.3g}"
                     for k, v in logs.items())
