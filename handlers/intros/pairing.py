"""Who meets whom in a round of introductions: a pure function of the members taking part,
the pairs introduced within the year, and the round's seed.

Only members of different cities meet. A pair whose cities are in one country (both known:
"Nairobi, Kenya" carries its country after the last comma) comes last; then a pair where
one offers a topic the other wants to learn comes first, then one sharing topics. A pair
introduced within the year never meets again. With an odd member left over, they join a
pair as a trio (someone from yet another city, new to both).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from bot.textkey import fold

Pair = frozenset[int]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member taking part: their city as written, the topics (keys) they offer and want."""

    member_id: int
    city: str
    offers: frozenset[str] = field(default_factory=frozenset)
    wants: frozenset[str] = field(default_factory=frozenset)


def place(city: str) -> tuple[str, str | None]:
    """(city, country) as comparable keys: "Nairobi, Kenya" is ("nairobi", "kenya"); a city
    without a comma has no known country."""
    name, comma, country = city.rpartition(",")
    if not comma:
        return fold(city) or "", None
    return fold(name) or "", fold(country)


def can_meet(a: Candidate, b: Candidate) -> bool:
    """Members of different cities (a city's key, its country aside)."""
    return place(a.city)[0] != place(b.city)[0]


def same_country(a: Candidate, b: Candidate) -> bool:
    country_a, country_b = place(a.city)[1], place(b.city)[1]
    return country_a is not None and country_a == country_b


def complements(a: Candidate, b: Candidate) -> int:
    """Topics one offers that the other wants to learn, both ways."""
    return len(a.offers & b.wants) + len(b.offers & a.wants)


def shared(a: Candidate, b: Candidate) -> int:
    return len((a.offers | a.wants) & (b.offers | b.wants))


def score(a: Candidate, b: Candidate) -> tuple[int, int, int]:
    """How good a pair is, compared as a tuple: other countries, then complementary topics,
    then shared ones."""
    return (0 if same_country(a, b) else 1, complements(a, b), shared(a, b))


def pair(
    candidates: Iterable[Candidate], met_before: Iterable[Pair], seed: int
) -> list[tuple[int, ...]]:
    """The groups of a round (member ids, each group sorted; groups sorted), the best pairs
    first (`score`), ties broken by `seed`. Members who can meet nobody new are left out."""
    people = sorted({c.member_id: c for c in candidates}.values(), key=lambda c: c.member_id)
    seen = {frozenset(p) for p in met_before}
    rng = random.Random(seed)
    possible = [
        (a, b)
        for a, b in combinations(people, 2)
        if can_meet(a, b) and frozenset((a.member_id, b.member_id)) not in seen
    ]
    choices = {c.member_id: 0 for c in people}
    for a, b in possible:
        choices[a.member_id] += 1
        choices[b.member_id] += 1
    # among pairs as good, those of members with fewer choices first, so fewer are left out
    options = [
        (score(a, b), -(choices[a.member_id] + choices[b.member_id]), rng.random(), a, b)
        for a, b in possible
    ]
    options.sort(key=lambda option: option[:3], reverse=True)
    taken: set[int] = set()
    groups: list[list[Candidate]] = []
    for *_rank, a, b in options:
        if a.member_id in taken or b.member_id in taken:
            continue
        taken.update((a.member_id, b.member_id))
        groups.append([a, b])
    for left in (c for c in people if c.member_id not in taken):
        trio = _best_pair_for(left, groups, seen)
        if trio is not None:
            trio.append(left)
            taken.add(left.member_id)
    return sorted(tuple(sorted(c.member_id for c in group)) for group in groups)


def _best_pair_for(
    left: Candidate, groups: Sequence[list[Candidate]], seen: set[Pair]
) -> list[Candidate] | None:
    fitting = [
        group
        for group in groups
        if len(group) == 2
        and all(can_meet(left, other) for other in group)
        and all(frozenset((left.member_id, other.member_id)) not in seen for other in group)
    ]
    if not fitting:
        return None

    def fit(group: list[Candidate]) -> tuple[int, ...]:
        both = [score(left, other) for other in group]
        return (*(sum(s[i] for s in both) for i in range(3)), -min(c.member_id for c in group))

    return max(fitting, key=fit)


def pairs_in(group: Sequence[int]) -> list[Pair]:
    """Every pair of members a group introduced (three in a trio)."""
    return [frozenset(p) for p in combinations(group, 2)]
