"""Profile Astrum's build or run of one workload with cProfile; print the top functions.

Usage: ``.venv/bin/python bench/profile_hot_path.py chain 10000 --phase run --top 15``
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


if __name__ == "__main__":
    main()
