"""The workflow ``astrum demo`` runs: a question-answering pipeline with fan-out and fan-in.

Tasks pass values through ``Ref[T, F(task, locator)]`` parameters and only
sleep (async tasks on the loop, the blocking one in a thread), so the demo
needs no network and shows how branches overlap: it takes about as long as
its critical path, not the sum of its tasks.
"""

from __future__ import annotations

import asyncio
import time

from astrum.data_transport import F, Ref
from astrum.decorators import SchedulerRegistry

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

    @flow.task()
    async def embed_question(question: Ref[str, F("read_question")]) -> list[float]:
        await pause(0.1)
        return [len(question) / 100, 0.5, 0.31]

    @flow.task()
    async def search_docs(vector: Ref[list[float], F("embed_question")]) -> list[str]:
        await pause(0.3)
        return ["scheduling.md", "reports.md"]

    @flow.task()
    async def search_web(vector: Ref[list[float], F("embed_question")]) -> list[str]:
        await pause(0.2)
        return ["https://example.org/critical-path"]

    @flow.task(retry=2, timeout=5)
    async def search_tickets(vector: Ref[list[float], F("embed_question")]) -> list[str]:
        await pause(0.15)
        return ["#42"]

    @flow.task()
    async def rerank(
        docs: Ref[list[str], F("search_docs")],
        pages: Ref[list[str], F("search_web")],
        tickets: Ref[list[str], F("search_tickets")],
    ) -> list[str]:
        await pause(0.1)
        return [*docs[:1], *tickets, *pages[:1]]

    @flow.task()
    async def draft_answer(
        sources: Ref[list[str], F("rerank")],
        tone: Ref[str, F("load_user_profile", "tone")],
    ) -> dict[str, str]:
        await pause(0.2)
        text = "The critical path: the longest chain of tasks that wait for each other."
        return {"text": text, "tone": tone, "source": sources[0]}

    @flow.task()
    async def check_facts(source: Ref[str, F("draft_answer", "source")]) -> bool:
        await pause(0.1)
        return bool(source)

    @flow.task()
    async def check_tone(tone: Ref[str, F("draft_answer", "tone")]) -> bool:
        await pause(0.05)
        return tone == "friendly"

    @flow.task()
    async def publish_answer(
        facts_ok: Ref[bool, F("check_facts")],
        tone_ok: Ref[bool, F("check_tone")],
        text: Ref[str, F("draft_answer", "text")],
    ) -> str:
        await pause(0.05)
        return "answer sent" if facts_ok and tone_ok else "answer held back"

    return flow
