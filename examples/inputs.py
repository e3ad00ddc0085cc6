"""One workflow, several questions: run-time inputs feed the same registry concurrently.

Run it with ``python examples/inputs.py``.
"""

from __future__ import annotations

import asyncio

from astrum import F, Input, Ref, SchedulerRegistry

support = SchedulerRegistry("support-desk")

ARTICLES = {
    "refund": "Refunds are paid within 5 working days.",
    "shipping": "Orders ship within 24 hours from our Berlin warehouse.",
    "password": "Reset your password from the sign-in page.",
}


@support.task()
async def classify(question: Ref[str, Input("question")]) -> str:
    await asyncio.sleep(0.05)  # stands in for a model call
    return next((topic for topic in ARTICLES if topic in question.lower()), "other")


@support.task()
async def load_customer(customer_id: Ref[int, Input("customer_id")]) -> dict[str, str]:
    await asyncio.sleep(0.05)  # stands in for a database lookup
    return {"name": f"customer #{customer_id}", "tier": "gold" if customer_id % 2 else "basic"}


@support.task()
def draft_reply(
    topic: Ref[str, F("classify")],
    customer: Ref[dict[str, str], F("load_customer")],
    tone: Ref[str, Input("tone")] = "friendly",
) -> str:
    article = ARTICLES.get(topic, "A colleague will get back to you today.")
    greeting = "Hi" if tone == "friendly" else "Dear"
    return f"{greeting} {customer['name']} ({customer['tier']}): {article}"


async def main() -> None:
    questions = [
        {"question": "Where is my refund?", "customer_id": 7},
        {"question": "What about shipping to Spain?", "customer_id": 12, "tone": "formal"},
        {"question": "I forgot my password", "customer_id": 3},
    ]
    reports = await asyncio.gather(*(support.run(inputs=given) for given in questions))
    for given, report in zip(questions, reports, strict=True):
        print(f"{given['question']!r}\n  -> {report.task_return_set['draft_reply']}")


if __name__ == "__main__":
    asyncio.run(main())
