"""Pages: what a feature serves over HTTP on Convener's own server, beside `/healthz`
(`bot.health`), such as members' calendar feeds. A feature declares a page on its router
(`Router.page`) as a GET path with one `{name}` part and a function of the services and that
part, which answers bytes and their type: features never see the HTTP library."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.context import Services


@dataclass(frozen=True, slots=True)
class Answer:
    """What a page answers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    charset: str = "utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


NOT_FOUND = Answer(404, b"Not found\n")
"""The same for anything not there, whatever the reason."""

PageFunc = Callable[["Services", str], Awaitable[Answer]]
"""`page(services, name)`: the answer for the path's `{name}` part."""


@dataclass(frozen=True, slots=True)
class Page:
    path: str  # `/calendar/{name}`
    func: PageFunc
