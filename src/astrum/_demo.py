"""The workflow ``astrum demo`` runs: a question-answering pipeline with fan-out and fan-in.

Each task only sleeps (async tasks on the loop, the blocking one in a
thread), so the demo needs no network and shows how branches overlap: it
takes about as long as its critical path, not the sum of its tasks.
"""

from __future__ import annotations

import asyncio
import time

from .decorators import SchedulerRegistry

__all__ = ["build_demo"]


def build_demo(scale: float = 1.0) -> SchedulerRegistry:
    """A fresh registry holding the demo; ``scale`` multiplies every task's duration.

    >>> report = asyncio.run(build_demo(scale=0.01).run())  # doctest: +SKIP
    """
    flow = SchedulerRegistry("demo")

    async def pause(seconds: float) -> None:
        await asyncio.sleep(seconds * scale)

    @flow.task()
    async def read_question() -> str:
        await pause(0.05)
        return "Which tasks decide how long a run takes?"

    @flow.task()
    def load_user_profile() -> dict[str, str]:
        time.sleep(0.3 * scale)  # a blocking client: it runs in a thread
        return {"name": "ada", "tone": "friendly"}

    @flow.task(depends_on=["read_question"])
    async def embed_question() -> list[float]:
        await pause(0.1)
        return [0.12, 0.5, 0.31]

    @flow.task(depends_on=["embed_question"])
    async def search_docs() -> list[str]:
        await pause(0.3)
        return ["scheduling.md", "reports.md"]

    @flow.task(depends_on=["embed_question"])
    async def search_web() -> list[str]:
        await pause(0.2)
        return ["https://example.org/critical-path"]

    @flow.task(depends_on=["embed_question"], retry=2, timeout=5)
    async def search_tickets() -> list[str]:
        await pause(0.15)
        return ["#42"]

    @flow.task(depends_on=["search_docs", "search_web", "search_tickets"])
    async def rerank() -> list[str]:
        await pause(0.1)
        return ["scheduling.md", "#42"]

    @flow.task(depends_on=["rerank", "load_user_profile"])
    async def draft_answer() -> str:
        await pause(0.2)
        return "The critical path: the longest chain of tasks that wait for each other."

    @flow.task(depends_on=["draft_answer"])
    async def check_facts() -> bool:
        await pause(0.1)
        return True

    @flow.task(depends_on=["draft_answer"])
    async def check_tone() -> bool:
        await pause(0.05)
        return True

    @flow.task(depends_on=["check_facts", "check_tone"])
    async def publish_answer() -> str:
        await pause(0.05)
        return "answer sent"

    return flow
