"""Per-task overhead of Astrum against a hand-written asyncio baseline.

Wide and chain graphs of 1,000 / 10,000 / 100,000 no-op async tasks. The
baseline and Astrum alternate repeat by repeat in one subprocess, so a spell
of load falls on both alike; the µs columns are medians of process CPU time
and the ratios are medians of the per-repeat ratios to the baseline's build + run.

Usage: ``.venv/bin/python bench/bench_overhead.py [--sizes 1000 10000] [--shapes wide chain]``
"""

from __future__ import annotations

import argparse
import statistics

from _harness import median, our_python, run_worker

__all__ = ["main"]

REPEATS = {1_000: 7, 10_000: 5, 100_000: 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--shapes", nargs="+", default=["wide", "chain"])
    parser.add_argument("--repeats", type=int, default=0, help="default: fewer for larger sizes")
    args = parser.parse_args()
    python = our_python()
    print("| graph | tasks | baseline µs/task | run only | x baseline | build + run | x baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape in args.shapes:
        for size in args.sizes:
            repeats = args.repeats or REPEATS.get(size, 3)
            found = run_worker(python, "baseline,astrum", shape, size, repeats)
            base, ours = found["baseline"], found["astrum"]
            floor = [b + r for b, r in zip(base["build_cpu"], base["run_cpu"], strict=True)]
            total = [b + r for b, r in zip(ours["build_cpu"], ours["run_cpu"], strict=True)]
            # Against the baseline's build + run, as in bench/RESULTS.md (run_all.py).
            run_ratio = statistics.median(
                a / b for a, b in zip(ours["run_cpu"], floor, strict=True)
            )
            total_ratio = statistics.median(a / b for a, b in zip(total, floor, strict=True))
            base_us = median(floor) / size * 1e6
            run_us = median(ours["run_cpu"]) / size * 1e6
            total_us = median(total) / size * 1e6
            print(
                f"| {shape} | {size:,} | {base_us:.1f} | {run_us:.1f} | {run_ratio:.2f}"
                f" | {total_us:.1f} | {total_ratio:.2f} |"
            )


if __name__ == "__main__":
    main()
