"""A retrieval chain for a RAG answer, with values passed between tasks; runs offline.

    question -> expand_query -> keyword_search -> merge -> rerank -> build_context
                             -> vector_search  ->

Each parameter says where its value comes from: ``Ref[list[str], F(expand_query,
"terms")]`` reads the ``terms`` field of ``expand_query``'s result. The two
searches run side by side. Two questions run concurrently on one registry,
each run with its own values; ``overrides`` gives each run its question.

Run it with ``python examples/rag_pipeline.py``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import TypedDict

from astrum import F, Ref, SchedulerRegistry, T

CORPUS = {
    "d1": "Tasks pass values to each other through annotated parameters.",
    "d2": "A task starts as soon as the tasks it depends on have finished.",
    "d3": "Blocking functions run in a thread pool so the event loop stays free.",
    "d4": "Retries repeat a failed task with a delay that can grow each time.",
    "d5": "Concurrent runs of one workflow never share their values.",
    "d6": "A key locator reads one field of the upstream result instead of all of it.",
}
SYNONYMS = {"pass": ["send"], "value": ["result", "field"], "parallel": ["concurrent"]}

rag = SchedulerRegistry("rag")


@dataclass(frozen=True)
class Query:
    text: str
    terms: list[str]


@dataclass(frozen=True)
class Hit:
    doc_id: str
    score: float


class SearchResult(TypedDict):
    hits: list[Hit]
    engine: str


def _words(text: str) -> list[str]:
    return [word.rstrip("s") for word in re.findall(r"[a-z]+", text.lower())]


def _vector(text: str) -> Counter[str]:
    padded = f"  {text.lower()}  "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[gram] for gram, count in a.items())
    norms = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norms if norms else 0.0


@rag.task()
async def question() -> str:
    return "how do tasks pass values"  # each run overrides this with its own question


@rag.task()
async def expand_query(text: Ref[str, F(question)]) -> Query:
    terms = _words(text)
    extra = [synonym for term in terms for synonym in SYNONYMS.get(term, [])]
    return Query(text=text, terms=terms + extra)


@rag.task()
async def keyword_search(terms: Ref[list[str], F(expand_query, "terms")]) -> SearchResult:
    await asyncio.sleep(0.2)  # stands in for a call to a search service
    wanted = set(terms)
    hits = [
        Hit(doc_id, float(len(wanted & set(_words(text)))))
        for doc_id, text in CORPUS.items()
        if wanted & set(_words(text))
    ]
    return {"hits": sorted(hits, key=lambda hit: -hit.score), "engine": "keyword"}


@rag.task()
def vector_search(text: Ref[str, F(expand_query, "text")]) -> SearchResult:
    time.sleep(0.2)  # a blocking embedding client: it runs in a thread, the loop stays free
    query = _vector(text)
    hits = [Hit(doc_id, _cosine(query, _vector(body))) for doc_id, body in CORPUS.items()]
    return {"hits": sorted(hits, key=lambda hit: -hit.score)[:4], "engine": "vector"}


@rag.task()
async def merge(
    keyword: Ref[list[Hit], F(keyword_search, "hits")],
    vector: Ref[list[Hit], F(vector_search, "hits")],
) -> list[Hit]:
    # Reciprocal rank fusion: documents ranked high by either engine come first.
    fused: dict[str, float] = {}
    for ranking in (keyword, vector):
        for rank, hit in enumerate(ranking):
            fused[hit.doc_id] = fused.get(hit.doc_id, 0.0) + 1 / (60 + rank)
    return [Hit(doc_id, score) for doc_id, score in sorted(fused.items(), key=lambda kv: -kv[1])]


@rag.task()
async def rerank(
    candidates: Ref[list[Hit], F(merge)], query: Ref[Query, F(expand_query)]
) -> Ref[list[Hit], T("build_context", None, "top")]:
    wanted = set(query.terms)

    def overlap(hit: Hit) -> float:
        return len(wanted & set(_words(CORPUS[hit.doc_id]))) + hit.score

    return sorted(candidates, key=overlap, reverse=True)[:3]


@rag.task()
async def build_context(top: list[Hit]) -> str:
    return "\n".join(f"[{hit.doc_id}] {CORPUS[hit.doc_id]}" for hit in top)


async def main() -> None:
    questions = ["how do tasks pass values", "what happens to blocking functions"]
    scheduler = rag.build_scheduler()  # built and type-checked once, run many times
    reports = await asyncio.gather(
        *(scheduler.execute(overrides={"question": text}) for text in questions)
    )
    for text, report in zip(questions, reports, strict=True):
        stats = {s.task_name: s for s in report.task_statistics}
        overlap = min(stats["keyword_search"].end_time, stats["vector_search"].end_time) - max(
            stats["keyword_search"].start_time, stats["vector_search"].start_time
        )
        print(f"Q: {text}")
        print(
            f"   {report.execution_state} in {report.execution_duration:.2f} s; "
            f"the two searches overlapped for {overlap:.2f} s"
        )
        print(report.task_return_set["build_context"], end="\n\n")


if __name__ == "__main__":
    asyncio.run(main())
