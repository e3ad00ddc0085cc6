"""A class-based workflow: methods are tasks, bound at run time to the instance you pass.

The class holds what the tasks share (here a ledger client and a currency);
``AstrumConfig(class_instances=[...])`` says which instance a run uses, so one
registry serves two clients side by side. A classmethod task is bound to the
class and a staticmethod task runs as it is.

Run it with ``python examples/class_workflow.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from astrum import AstrumConfig, F, Ref, SchedulerRegistry

billing = SchedulerRegistry("billing")


@dataclass(frozen=True)
class Invoice:
    number: str
    amount: float
    paid: bool


class FakeLedger:
    """Stands in for a ledger API client; a real one would make HTTP calls."""

    def __init__(self, invoices: list[Invoice]) -> None:
        self._invoices = invoices

    async def invoices(self) -> list[Invoice]:
        await asyncio.sleep(0.05)
        return list(self._invoices)


class MonthlyBilling:
    """The monthly billing run of one customer."""

    title = "Monthly billing"

    def __init__(self, customer: str, ledger: FakeLedger, rate: float) -> None:
        self.customer = customer
        self.ledger = ledger
        self.rate = rate

    @billing.task()
    async def fetch_invoices(self) -> list[Invoice]:
        return await self.ledger.invoices()

    @billing.task()
    def open_amount(self, invoices: Ref[list[Invoice], F(fetch_invoices)]) -> float:
        return round(sum(i.amount for i in invoices if not i.paid) * self.rate, 2)

    @billing.task()
    @classmethod
    def heading(cls) -> str:
        return cls.title

    @staticmethod
    @billing.task()
    def statement(
        heading: Ref[str, F("heading")],
        invoices: Ref[list[Invoice], F("fetch_invoices")],
        due: Ref[float, F("open_amount")],
    ) -> str:
        return f"{heading}: {len(invoices)} invoices, {due:.2f} due"


async def main() -> None:
    acme = MonthlyBilling(
        "acme",
        FakeLedger([Invoice("A-1", 120.0, paid=True), Invoice("A-2", 80.0, paid=False)]),
        rate=1.0,
    )
    globex = MonthlyBilling(
        "globex",
        FakeLedger([Invoice("G-1", 300.0, paid=False), Invoice("G-2", 45.5, paid=False)]),
        rate=0.92,
    )
    runs = [
        billing.run(config=AstrumConfig(class_instances=[customer])) for customer in (acme, globex)
    ]
    for customer, report in zip((acme, globex), await asyncio.gather(*runs), strict=True):
        print(f"{customer.customer:<7} {report.task_return_set['statement']}")


if __name__ == "__main__":
    asyncio.run(main())
