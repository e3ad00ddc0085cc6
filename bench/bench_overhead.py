"""Per-task overhead of Astrum against a hand-written asyncio baseline.

Wide and chain graphs of 1,000 / 10,000 / 100,000 no-op async tasks; each
implementation runs in its own subprocess, and the ratios compare medians of
process CPU time measured in the same invocation.

Usage: ``.venv/bin/python bench/bench_overhead.py [--sizes 1000 10000] [--shapes wide chain]``
"""

from __future__ import annotations

import argparse

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
            base = run_worker(python, "baseline", shape, size, repeats)
            ours = run_worker(python, "astrum", shape, size, repeats)
            base_us = median(base["run_cpu"]) / size * 1e6
            run_us = median(ours["run_cpu"]) / size * 1e6
            total = [b + r for b, r in zip(ours["build_cpu"], ours["run_cpu"], strict=True)]
            total_us = median(total) / size * 1e6
            print(
                f"| {shape} | {size:,} | {base_us:.1f} | {run_us:.1f} | {run_us / base_us:.2f}"
                f" | {total_us:.1f} | {total_us / base_us:.2f} |"
            )


if __name__ == "__main__":
    main()
