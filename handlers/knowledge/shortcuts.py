"""*Add to the library*, chosen on a message by a facilitator (Slack's "More actions" menu):
the message and the answers in its thread are kept as a library entry, as a solved question
is (`keeping`), attributed and linked to the thread, and the thread is told. Whoever chose it
is answered privately; a thread already in the library stays as it is."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from bot import authors, notices, outbox, roles, topics
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _
from bot.models import Channel, KnowledgeEntry
from bot.router import Router
from bot.types import ChannelRef, Shortcut
from handlers.knowledge import keeping
from handlers.knowledge.keeping import Unreadable, answers

router = Router()


@router.shortcut("add_to_library", title=_("Add to the library"), roles=[roles.FACILITATOR])
async def add_to_library(ctx: Context, shortcut: Shortcut) -> Message:
    message = shortcut.message
    if message is None or not message.text.strip():
        raise CommandError(_("That message has no text to keep in the library."))
    channel, root = message.channel, message.thread_id or message.message_id
    if channel.is_direct:
        raise CommandError(_(
            "Only a thread in a channel goes to the library, where everyone can open it."
        ))  # fmt: skip
    existing = await _kept(ctx, channel, root)
    if existing is not None:
        raise CommandError(_("That thread is already in the library as #{id} ({title}).",
                             id=existing.id, title=existing.title))  # fmt: skip
    author_id = None
    if not message.user.is_bot:
        author_id = (await authors.resolve(ctx, ctx.platform, message.user)).member_id
    async with ctx.db() as session:
        found = topics.mentioned_in(await topics.every_label(session), message.text)
    kept: list[KnowledgeEntry] = []

    async def keep() -> None:
        leave_out = message.message_id if message.thread_id else None
        try:
            said = await answers(ctx, channel, root, author_id=author_id, leave_out=leave_out)
        except Unreadable as exc:
            raise CommandError(_("I couldn't read that thread just now, so nothing was kept. "
                                 "Please try again in a minute.")) from exc  # fmt: skip
        entry = await keeping.keep(
            ctx, channel, root, message.text.strip(), said, author_id=author_id,
            topic_ids=[s.topic.id for s in found],
        )  # fmt: skip
        kept.append(entry)
        await outbox.post(
            ctx, f"library:{entry.id}", "kept", channel,
            _("📚 This thread is now kept in the library (#{id}), with the names of those who "
              "wrote in it, so that others find it with `search`.", id=entry.id),
            root,
        )  # fmt: skip

    if not await notices.once(ctx, _claim(channel, root), "library", 0, keep):
        raise CommandError(_("That thread is being kept in the library already."))
    entry = kept[0]
    return _("Kept in the library as #{id}: {title}. Anyone finds it with `search`.",
             id=entry.id, title=entry.title)  # fmt: skip


async def _kept(ctx: Context, channel: ChannelRef, root: str) -> KnowledgeEntry | None:
    async with ctx.db() as session:
        return await session.scalar(
            select(KnowledgeEntry)
            .join(Channel, Channel.id == KnowledgeEntry.channel_id)
            .where(
                Channel.platform == channel.platform,
                Channel.channel_id == channel.id,
                KnowledgeEntry.message_id == root,
            )
        )


def _claim(channel: ChannelRef, root: str) -> str:
    """The once-only key of a thread being kept (`bot.notices.once`), short enough for any
    platform's ids."""
    key = "\0".join((channel.platform, channel.id, root)).encode()
    return "kept:" + hashlib.sha256(key).hexdigest()[:26]
