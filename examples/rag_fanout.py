"""A RAG answer that fans out over the retrieved documents as they stream in; runs offline.

    question -> retrieve (async generator) -> summarize[i] -> grade[i] -> answer

``retrieve`` yields documents one by one, as a paged search API would;
``summarize`` has an ``Each(retrieve)`` parameter, so it runs once per document
(``summarize[0]``, ``summarize[1]``, ...) and instance i starts the moment
document i is yielded. ``grade`` maps element-wise over ``summarize``: grade[i]
starts when summarize[i] is done, without waiting for the others. Each instance
has its own retries and timeout; ``grade`` skips off-topic documents with
``Skip``, and ``answer`` takes whatever was graded with ``partial=True``.

Run it with ``python examples/rag_fanout.py``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from astrum import AstrumConfig, Each, F, Input, Ref, SchedulerRegistry, Skip

CORPUS = [
    "Tasks pass values to each other through annotated parameters.",
    "A mapped task runs once per element of an upstream list.",
    "Instances of a mapped task retry and time out on their own.",
    "The weather in the mountains changes quickly.",
    "Streaming a generator starts each instance as its item is yielded.",
]

rag = SchedulerRegistry("rag-fanout")


@dataclass(frozen=True)
class Doc:
    doc_id: int
    text: str


@dataclass(frozen=True)
class Graded:
    doc_id: int
    summary: str
    score: float


def _words(text: str) -> set[str]:
    return {word.rstrip("s") for word in re.findall(r"[a-z]+", text.lower())}


@rag.task()
async def retrieve(question: Ref[str, Input("question")]) -> AsyncIterator[Doc]:
    for doc_id, text in enumerate(CORPUS):
        await asyncio.sleep(0.02)  # one page of a search API
        yield Doc(doc_id, text)


_calls: dict[int, int] = {}


@rag.task(retry=2, timeout=1.0)
async def summarize(doc: Ref[Doc, Each(retrieve)]) -> str:
    _calls[doc.doc_id] = _calls.get(doc.doc_id, 0) + 1
    if doc.doc_id == 2 and _calls[doc.doc_id] == 1:
        raise ConnectionError("model endpoint busy")  # retried, for this document only
    await asyncio.sleep(0.05)  # stands in for an LLM call
    return doc.text.split(" ", 6)[-1]


@rag.task()
async def grade(
    summary: Ref[str, Each(summarize)],
    doc: Ref[Doc, Each(retrieve)],
    question: Ref[str, Input("question")],
) -> Graded:
    overlap = len(_words(question) & _words(doc.text))
    if not overlap:
        raise Skip(f"document {doc.doc_id} is off-topic")
    return Graded(doc.doc_id, summary, float(overlap))


@rag.task()
def answer(graded: Ref[list[Graded], F(grade, partial=True)]) -> str:
    best = sorted(graded, key=lambda item: -item.score)[:3]
    return "\n".join(f"[{item.doc_id}] {item.summary}" for item in best)


async def main() -> None:
    report = await rag.run(
        config=AstrumConfig(on_failure="continue"),
        inputs={"question": "how does a mapped task run each instance"},
    )
    print(report.task_return_set["answer"])
    print()
    print(report.summary())
    stats = {s.task_name: s for s in report.task_statistics}
    assert report.execution_state == "completed", report.error_summary
    assert stats["summarize[2]"].attempt_count == 2  # retried on its own
    assert stats["grade[3]"].status == "skipped"  # off-topic: skipped, not failed
    assert len(report.task_return_set["retrieve"]) == len(CORPUS)


if __name__ == "__main__":
    asyncio.run(main())
