"""Feed tokens: `secrets.token_urlsafe(32)` in the address, only its SHA-256 kept
(`CalendarFeed.token_hash`), so a copy of the database holds no working address and an
address once given cannot be shown again; a new one replaces it."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import upsert
from bot.models import CalendarFeed

PATH = "/calendar/{name}"
_NAME = re.compile(r"[A-Za-z0-9_-]{43}\.ics")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def address(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/calendar/{token}.ics"


def token_of(name: str) -> str | None:
    """The token in a feed's file name (`<token>.ics`); None unless it is one Convener could
    have given."""
    return name[:-4] if _NAME.fullmatch(name) else None


async def member_of(session: AsyncSession, token: str) -> int | None:
    """The member whose feed `token` opens (one indexed query)."""
    return await session.scalar(
        select(CalendarFeed.member_id).where(CalendarFeed.token_hash == digest(token))
    )


async def since(session: AsyncSession, member_id: int) -> datetime | None:
    """When the member's feed was made, if they have one."""
    return await session.scalar(
        select(CalendarFeed.created_at).where(CalendarFeed.member_id == member_id)
    )


async def issue(session: AsyncSession, member_id: int, now: datetime, replace: bool) -> str | None:
    """A new token for the member's feed (with `replace`, the old address stops working);
    None when they have one and `replace` is False. The caller commits."""
    token = secrets.token_urlsafe(32)
    insert = upsert(session, CalendarFeed).values(
        member_id=member_id, token_hash=digest(token), created_at=now
    )
    if replace:
        insert = insert.on_conflict_do_update(
            index_elements=[CalendarFeed.member_id],
            set_={"token_hash": insert.excluded.token_hash, "created_at": now},
        )
    else:
        insert = insert.on_conflict_do_nothing(index_elements=[CalendarFeed.member_id])
    done = await session.execute(insert.returning(CalendarFeed.member_id))
    return token if done.scalar() is not None else None
