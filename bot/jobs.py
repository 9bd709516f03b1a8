"""Jobs as a feature declares them on its router (`@router.every`, `@router.daily`,
`@router.weekly`, `@router.at_start`), and the timetable a job may use to follow its own rows.
The scheduler engine (`schedules`) runs them; the composition root hands it the merged list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.context import JobContext

JobFunc = Callable[["JobContext"], Awaitable[object]]
MIN_GRACE = timedelta(minutes=1)
"""A weekly run is made up to this late at least, even with no grace set: a job fires a
moment after its slot."""
Slot = tuple[int, str, str]
"""A weekly slot: weekday (0 is Monday), `HH:MM`, IANA time zone."""


@dataclass(frozen=True)
class Every:
    """Every `seconds`, from when the scheduler starts."""

    seconds: float


@dataclass(frozen=True)
class Daily:
    """Every day at `hour:minute` UTC."""

    hour: int
    minute: int


@dataclass(frozen=True)
class Weekly:
    """Weekly at the slot the settings give (`slot(settings)`; None when switched off, a
    UsageError when a setting cannot be read: logged, and the job is left out). A run missed
    while down is still made within `grace(settings)`."""

    slot: Callable[[Settings], Slot | None]
    grace: Callable[[Settings], timedelta]


@dataclass(frozen=True)
class AtStart:
    """Once, when the scheduler starts (catching up what was missed while down), in the
    order declared."""


When = Every | Daily | Weekly | AtStart


@dataclass(frozen=True)
class Job:
    id: str
    func: JobFunc
    when: When


class Timetable(Protocol):
    """The running scheduler, for jobs that follow rows (one job per prompt schedule)."""

    def weekly(self, job_id: str, slot: Slot, func: JobFunc, grace: timedelta) -> None:
        """Run `func` weekly at `slot` from now on (replacing a job with this id)."""
        ...

    def remove(self, job_id: str) -> None:
        """Stop running the job with this id, if there is one."""
        ...

    def ids(self, prefix: str) -> set[str]:
        """The ids of the jobs that start with `prefix`."""
        ...
