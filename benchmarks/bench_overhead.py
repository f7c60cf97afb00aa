"""Per-op overhead: the tiny graph ``(a*b + c).sum().backward()`` on 2×2 tensors, where the time is all
bookkeeping (creating nodes, walking the graph), compared with PyTorch side by side."""
from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none

import autograd as ag


def main():
    torch = torch_or_none()
    a, b, c = (ag.randn(2, 2, requires_grad=True) for _ in range(3))

    cases = {
        "(a*b+c).sum().backward()": lambda: (a * b + c).sum().backward(),
        "forward only: (a*b+c).sum()": lambda: (a * b + c).sum(),
        "a*b (one recorded op)": lambda: a * b,
        "a*b under no_grad": None,
    }
    rows = []
    if torch is not None:
        ta, tb, tc = (torch.randn(2, 2, requires_grad=True) for _ in range(3))
        torch_cases = {
            "(a*b+c).sum().backward()": lambda: (ta * tb + tc).sum().backward(),
            "forward only: (a*b+c).sum()": lambda: (ta * tb + tc).sum(),
            "a*b (one recorded op)": lambda: ta * tb,
        }
    for name, fn in cases.items():
        if fn is None:
            with ag.no_grad():
                ours = timeit_median(lambda: a * b)
            theirs = None
            if torch is not None:
                with torch.no_grad():
                    theirs = timeit_median(lambda: ta * tb)
        else:
            ours = timeit_median(fn)
            theirs = timeit_median(torch_cases[name]) if torch is not None else None
        rows.append([name, fmt_time(ours), fmt_time(theirs) if theirs else "-",
                     fmt_ratio(theirs / ours) if theirs else "-"])
    print_table("Per-op overhead on 2x2 float32 tensors (median per call; torch/ours > 1 means we are faster)",
                ["graph", "numbagrad", "torch", "torch/ours"], rows)


if __name__ == "__main__":
    main()
