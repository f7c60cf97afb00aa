"""The progress bar of fit fits the terminal: every metric stays whole (never "val_accurac"), the bar and
the names give way first on a narrow terminal, and a wide one shows everything."""
import io

import pytest

pytest.importorskip("tqdm")
from nn.training.progress import fit_postfix, format_logs, make_bar  # noqa: E402

LOGS = {"loss": 0.0444, "accuracy": 0.9892, "val_loss": 0.0583, "val_accuracy": 0.9931}


def epoch_lines(columns):
    out = io.StringIO()
    bar = make_bar(True, 41, "Epoch 25/25", columns=columns, file=out)
    for _ in range(41):
        bar.update(1)
        bar.set_postfix_str("loss=0.0444", refresh=False)
    bar.set_postfix_str(format_logs(LOGS))
    bar.close()
    return [line for line in out.getvalue().replace("\r", "\n").split("\n") if line.strip()]


@pytest.mark.parametrize("columns", [40, 60, 80, 100, 120, 200])
def test_every_line_fits_the_terminal_and_ends_whole(columns):
    lines = epoch_lines(columns)
    assert lines and all(len(line) <= columns for line in lines)
    last = lines[-1]
    assert last.startswith("Epoch 25/25: ") and "41/41" in last and last.endswith("]")
    for field in last[last.index("[") + 1:-1].split(", ", 1)[1:]:
        for item in field.split():
            name, value = item.split("=")
            assert name in ("loss", "accuracy", "acc", "val_loss", "val_accuracy", "val_acc")
            float(value)


def test_an_80_column_terminal_shows_all_four_metrics():
    last = epoch_lines(80)[-1]
    assert "loss=" in last and "acc=" in last and "val_loss=" in last and "val_acc=" in last


def test_a_wide_terminal_shows_the_bar_and_the_full_names():
    last = epoch_lines(140)[-1]
    assert "100%|" in last and "val_accuracy=0.9931" in last and "accuracy=0.9892" in last


def test_fit_postfix_shortens_in_order():
    text = format_logs(LOGS)
    assert fit_postfix(text, 200) == text
    assert fit_postfix(text, 53) == "loss=0.0444 acc=0.9892 val_loss=0.0583 val_acc=0.9931"
    assert fit_postfix(text, 50) == "loss=0.044 acc=0.989 val_loss=0.058 val_acc=0.993"
    assert fit_postfix(text, 25) == "loss=0.044 acc=0.989"
    assert fit_postfix(text, 3) == ""
