"""A moment in text. The core writes `moment(at, fallback)`; an adapter that can show a time
in each reader's own terms does so (Slack's `<!date^...>`), and the others show the
fallback (`plain`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_MOMENT = re.compile(r"⟦t:(\d{1,12})\|([^⟦⟧]*)⟧")


def moment(at: datetime, fallback: str) -> str:
    """`at` for each reader where the platform can say it, else `fallback` (no brackets)."""
    return f"⟦t:{int(at.timestamp())}|{fallback.replace('⟦', '').replace('⟧', '')}⟧"


def render(text: str, show: Callable[[int, str], str]) -> str:
    """The text with each moment replaced by `show(unix seconds, fallback)`."""
    return _MOMENT.sub(lambda m: show(int(m.group(1)), m.group(2)), text)


def plain(text: str) -> str:
    return render(text, lambda _, fallback: fallback)


@dataclass(frozen=True, slots=True)
class Moment:
    """`moment` as a catalog message (`bot.i18n`): the fallback is rendered in the reader's
    language."""

    at: datetime
    fallback: Any  # a Message

    def render(self, language: str) -> str:
        from bot import i18n

        return moment(self.at, i18n.render(self.fallback, language))
