"""Best of alternating rounds: the one way every benchmark here compares things.

Each way is measured in turn, round after round, so that drift on a shared machine
(another process, the page cache, a CPU slowed down) hits all of them alike; each
way keeps its best round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def best_of_rounds(
    rounds: int, ways: Mapping[str, Callable[[], T]], better: Callable[[T, T], T] = max
) -> dict[str, T]:
    """``{name: best result}`` of ``rounds`` alternating rounds over ``ways``;
    ``better`` picks the better of two results (``max`` for rates, ``min`` for times)."""
    best: dict[str, T] = {}
    for _ in range(rounds):
        for name, measure in ways.items():
            value = measure()
            best[name] = value if name not in best else better(best[name], value)
    return best


def alternate_best(
    rounds: int, targets: Iterable[Any], measure: Callable[[Any], T], better=max
) -> dict[str, T]:
    """:func:`best_of_rounds` over named targets (servers, sides) measured alike."""
    ways = {target.name: (lambda target=target: measure(target)) for target in targets}
    return best_of_rounds(rounds, ways, better)


def per_key(higher_is_better: Mapping[str, bool]) -> Callable[[dict, dict], dict]:
    """A ``better`` for results that are dicts of figures: each figure's best, by
    whether higher is better for it."""

    def better(a: dict, b: dict) -> dict:
        return {k: (max if higher_is_better[k] else min)(a[k], b[k]) for k in a}

    return better
