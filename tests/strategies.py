"""Hypothesis strategies shared by the test suite.

Each feature adds a clearly named section; reuse these rather than redefining them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st

__all__ = ["DataDag", "DataRelation", "data_dags"]

# -- data transport: DAGs whose edges carry values --------------------------------------

DataStyle = Literal["param", "return", "explicit"]
"""``param``: ``Ref[..., F(...)]``; ``return``: ``T(...)`` on the source; ``explicit``: TaskData."""


@dataclass(frozen=True)
class DataRelation:
    """Task ``receiver`` gets ``source``'s result (or ``locator`` of it) as parameter ``param``."""

    source: int
    receiver: int
    param: str
    locator: str | int | None
    style: DataStyle


@dataclass(frozen=True)
class DataDag:
    """``size`` tasks numbered 0..size-1; relations only go from lower to higher numbers."""

    size: int
    relations: tuple[DataRelation, ...]
    is_async: tuple[bool, ...]
    returns_mapping: tuple[bool, ...]
    """Whether each task returns a dict (str locators read keys) or an object (attributes)."""


@st.composite
def data_dags(draw: st.DrawFn, max_tasks: int = 8) -> DataDag:
    """A random DAG with data relations; each receiver parameter is fed exactly once."""
    size = draw(st.integers(min_value=1, max_value=max_tasks))
    relations = []
    for receiver in range(1, size):
        sources = draw(
            st.lists(st.integers(min_value=0, max_value=receiver - 1), max_size=3, unique=True)
        )
        for n, source in enumerate(sources):
            relations.append(
                DataRelation(
                    source=source,
                    receiver=receiver,
                    param=f"p{n}",
                    locator=draw(st.sampled_from([None, "name", 0, 1])),
                    style=draw(st.sampled_from(["param", "return", "explicit"])),
                )
            )
    return DataDag(
        size=size,
        relations=tuple(relations),
        is_async=tuple(draw(st.lists(st.booleans(), min_size=size, max_size=size))),
        returns_mapping=tuple(draw(st.lists(st.booleans(), min_size=size, max_size=size))),
    )
