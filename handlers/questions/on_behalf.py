"""*Ask the experts*, chosen on a message (Slack's "More actions" menu): the message becomes a
question asked on behalf of its author, in that message's thread, routed as `ask` routes it.
The author is told by direct message and may withdraw it (`withdrawing`); whoever chose it is
answered privately. A message that is already a question, or in a question's thread, stays
as it is."""

from __future__ import annotations

import hashlib

from bot import authors, notices, outbox
from bot.claims import Sender
from bot.commands import excerpt
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _, lines
from bot.models import Question
from bot.router import Router
from bot.types import Action, ChannelRef, Shortcut
from handlers.questions import asking, offers, telling
from handlers.questions.service import (
    OPEN,
    SOLVED,
    Where,
    in_thread,
    link_to,
    name_of,
)

router = Router()

NOT_A_MEMBERS = _("Ask the experts works on members' messages.")


@router.shortcut("ask_experts", title=_("Ask the experts"))
async def ask_experts(ctx: Context, shortcut: Shortcut) -> Message:
    message = shortcut.message
    if message is None:
        raise CommandError(NOT_A_MEMBERS)
    channel, root = message.channel, message.thread_id or message.message_id
    if channel.is_direct:
        raise CommandError(_(
            "Ask the experts works on messages in channels, where everyone can learn from "
            "the answers."
        ))  # fmt: skip
    async with ctx.db() as session:
        existing = await in_thread(session, channel, root)
    if existing is not None:  # Convener's own post of a question among them
        raise CommandError(_already(existing, own=root == message.message_id))
    if message.user.is_bot:
        raise CommandError(NOT_A_MEMBERS)
    text = message.text.strip()
    if not text:
        raise CommandError(_("That message has no text to ask the experts about."))
    if len(text) > asking.MAX_QUESTION:  # the whole message stays where it is
        text = text[: asking.MAX_QUESTION - 1].rstrip() + "…"
    author = await authors.resolve(ctx, ctx.platform, message.user)
    asked: list[Question] = []

    async def ask() -> None:
        asked.append(await _ask(ctx, author, channel, root, text))

    if not await notices.once(ctx, _claim(channel, root), "question", 0, ask):
        raise CommandError(_("That message is being sent to the experts already."))
    question = asked[0]
    if author.member_id == ctx.sender.member_id:
        return _("Your message is now question #{id}: I've brought it to members who know "
                 "its topic, in its thread. `withdraw {id}` takes it back.",
                 id=question.id)  # fmt: skip
    return _("Sent {name}'s message to the experts as question #{id}, in its thread; I've "
             "told {name}, who can withdraw it.", name=name_of(author.member),
             id=question.id)  # fmt: skip


def _already(question: Question, own: bool) -> Message:
    if not own:
        return _("That message is in the thread of question #{id} already.", id=question.id)
    if question.status == OPEN:
        return _("That message is already question #{id}; answers go in its thread.",
                 id=question.id)  # fmt: skip
    if question.status == SOLVED:
        return _("That message was question #{id}, solved already.", id=question.id)
    return _("That message was question #{id}, and it was withdrawn.", id=question.id)


def _claim(channel: ChannelRef, root: str) -> str:
    """The once-only key of a thread being made a question (`bot.notices.once`), short enough
    for any platform's ids."""
    key = "\0".join((channel.platform, channel.id, root)).encode()
    return "asked:" + hashlib.sha256(key).hexdigest()[:24]


async def _ask(ctx: Context, author: Sender, channel: ChannelRef, root: str, text: str) -> Question:
    """Ask, as `ask` does, with the thread's open offer closed first (given back if asking
    fails); then tell the author, unless they chose it themselves."""
    offer_id = await offers.close(ctx, channel, root)
    try:
        await asking.ask(ctx, author, channel, text, root=root, named_topics=False)
    except BaseException:
        if offer_id is not None:
            await offers.reopen(ctx, offer_id)
        raise
    async with ctx.db() as session:
        question = await in_thread(session, channel, root)
    assert question is not None
    if author.member_id != ctx.sender.member_id:
        await _tell_author(ctx, author, question, Where(channel, root))
    return question


async def _tell_author(ctx: Context, author: Sender, question: Question, where: Where) -> None:
    link = await link_to(ctx, where)
    text = lines(
        _("{name} sent your message in {channel} to members who know its topic, as question "
          "#{id}:", name=name_of(ctx.sender.member), channel=where.channel.name or where.channel.id,
          id=question.id),
        _("> {question}", question=excerpt(question.text, 300)),
        _("Open the thread: {link}", link=link) if link else None,
        _("Answers come in its thread; when it's answered, react ✅ to your message or type "
          "`solved {id}`. Not what you wanted? `withdraw {id}` takes it back.", id=question.id),
    )  # fmt: skip
    buttons = [Action(_("Withdraw"), f"withdraw {question.id}")]
    await outbox.dm(
        ctx, telling.subject(question.id), "on behalf", author.member_id, text,
        where.channel.platform, buttons,
    )  # fmt: skip
