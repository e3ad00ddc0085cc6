"""Profile Astrum's build or run of one workload with cProfile; print the top functions.

Usage: ``.venv/bin/python bench/profile_hot_path.py chain 10000 --phase run --top 15``;
``... profile_hot_path.py four 3000`` profiles 3,000 ``registry.run()`` of bench_often's
4-task workflow (the per-run fixed cost), after 200 untimed ones.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats

import impl_astrum
from workloads import make

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload")
    parser.add_argument("size", type=int)
    parser.add_argument("--phase", choices=["build", "run"], default="run")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    if args.workload == "four":
        _profile_four(args.size, args.sort, args.top)
        return
    workload = make(args.workload, args.size)
    prepared = impl_astrum.prepare(workload)
    profile = cProfile.Profile()
    if args.phase == "build":
        profile.runcall(impl_astrum.build, prepared)
    else:
        scheduler = impl_astrum.build(prepared)

        async def run() -> None:
            impl_astrum.check(workload, await impl_astrum.run(scheduler))

        async def profiled_run() -> None:
            profile.enable()
            try:
                await run()
            finally:
                profile.disable()

        asyncio.run(profiled_run())
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


def _profile_four(runs: int, sort: str, top: int) -> None:
    from bench_often import _four_tasks

    flow = _four_tasks()
    profile = cProfile.Profile()

    async def many() -> None:
        for _ in range(200):  # the plan is built, caches and specializations are warm
            await flow.run()
        profile.enable()
        try:
            for _ in range(runs):
                await flow.run()
        finally:
            profile.disable()

    asyncio.run(many())
    pstats.Stats(profile).sort_stats(sort).print_stats(top)


if __name__ == "__main__":
    main()
