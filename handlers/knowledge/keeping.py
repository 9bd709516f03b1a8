"""Keeping a thread in the library: a message and the answers in its thread as they stand now
(edits applied, deleted replies gone), each answer with its author's name, linked to the
thread. A solved question is kept so, and so is a thread a facilitator chooses (*Add to the
library*). The one place message text is kept whatever CONVENER_STORE_MESSAGE_TEXT says."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot import members
from bot.commands import excerpt
from bot.context import Services
from bot.models import KnowledgeEntry, KnowledgeTopic
from bot.types import ChannelRef
from handlers.knowledge import library

THREAD_SECONDS = 30  # Slack allows some apps one thread read a minute


class Unreadable(Exception):
    """The platform could not give the thread (it is down, or refused)."""


async def answers(
    ctx: Services,
    channel: ChannelRef,
    root_id: str,
    *,
    author_id: int | None,
    leave_out: str | None = None,
) -> list[str]:
    """The answers in the thread rooted at `root_id`, as `name: text` lines, oldest first:
    the replies by others than the author of what is kept (`author_id`, a member; None for a
    bot's post), bots' replies and the message `leave_out` (what is kept, when it is a reply
    itself) left out. Raises `Unreadable` when the thread cannot be read."""
    try:
        async with asyncio.timeout(THREAD_SECONDS):
            replies = await ctx.platforms[channel.platform].thread(channel, root_id)
    except Exception as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
    async with ctx.db() as session:
        own = (
            {(u.platform, u.id) for u in await members.platform_users(session, author_id)}
            if author_id is not None
            else set()
        )
        found = []
        for reply in replies:
            if reply.user.is_bot or (reply.user.platform, reply.user.id) in own:
                continue
            if reply.message_id == leave_out or not reply.text.strip():
                continue
            author = await members.find(session, reply.user)
            name = author.display_name if author else (reply.user.name or reply.user.id)
            found.append(f"{name}: {' '.join(reply.text.split())}")
    return found


async def keep(
    ctx: Services,
    channel: ChannelRef,
    root_id: str,
    text: str,
    said: list[str],
    *,
    author_id: int | None,
    topic_ids: list[int],
    question_id: int | None = None,
    channel_id: int | None = None,
) -> KnowledgeEntry:
    """Keep `text` (a question, a message) with the answers `said` in its thread (`answers`)
    as a library entry, attributed to its author and linked to the thread (`channel_id`: the
    channel's row, when the caller has it). An entry already kept for the thread is brought
    up to date rather than doubled (a thread a facilitator kept whose question is then
    solved)."""
    title, body = excerpt(text, 200), "\n".join([text, "", *said] if said else [text])
    async with ctx.db() as session:
        if channel_id is None:
            channel_id = (await members.resolve_channel(session, channel)).id
        language = (
            await ctx.languages.of_member_id(session, author_id)
            if author_id is not None
            else ctx.languages.default
        )
        entry = await session.scalar(
            select(KnowledgeEntry).where(
                KnowledgeEntry.channel_id == channel_id, KnowledgeEntry.message_id == root_id
            )
        )
        if entry is None:
            entry = await library.add(
                session, title=title, body=body, now=ctx.now(), topic_ids=topic_ids,
                question_id=question_id, channel_id=channel_id, message_id=root_id,
                created_by=author_id, language=language,
            )  # fmt: skip
        else:
            entry.title, entry.body = title, body
            if question_id is not None and entry.question_id is None:
                entry.question_id = question_id
            held = set(
                await session.scalars(
                    select(KnowledgeTopic.topic_id).where(KnowledgeTopic.entry_id == entry.id)
                )
            )
            session.add_all(
                KnowledgeTopic(entry_id=entry.id, topic_id=t) for t in set(topic_ids) - held
            )
        await session.commit()
    return entry
