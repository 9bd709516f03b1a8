"""The prompts feature's section of a facilitator's home: the prompt queue, next first (as
`prompt list` orders it)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot import roles
from bot.commands import excerpt
from bot.context import Services
from bot.home import Viewer
from bot.i18n import _, n_
from bot.models import Prompt
from bot.router import Router
from bot.types import Item, Section
from handlers.prompts.commands import EMPTY

router = Router()

SHOWN = 3
TEXT = 150


@router.home("prompts", order=120, roles=[roles.FACILITATOR])
async def queue(ctx: Services, viewer: Viewer) -> Section:
    async with ctx.db() as session:
        waiting = await session.scalar(
            select(func.count()).select_from(Prompt).where(Prompt.used_at.is_(None))
        )
        rows = (
            await session.scalars(
                select(Prompt)
                .order_by(Prompt.used_at.is_not(None), Prompt.used_at, Prompt.id)
                .limit(SHOWN)
            )
        ).all()
    return Section(
        n_("Prompt queue: {n} waiting", "Prompt queue: {n} waiting", waiting or 0),
        tuple(
            Item(_("#{id} — {text}", id=prompt.id, text=excerpt(prompt.text, TEXT)))
            for prompt in rows
        ),
        empty=EMPTY,
    )
