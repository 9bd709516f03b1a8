"""The welcome: a direct message to each member the first time they join a channel (once per
community, never again on rejoining), an optional greeting in the channel
(`CONVENER_WELCOME_IN_CHANNEL`), and the first onboarding question. Facilitators manage the
template with `welcome`, `welcome set <template>` and `welcome test`.

A platform that says "slow down" (a burst of joins) is asked again after as long as it said,
for as long as a person waits (`bot.patience`); past that, or on another failure, the member
is not counted as welcomed, so the next join tries again.

Someone who already posted or reacted in a channel before Convener saw them join is an
existing member (the bot was installed into a running community): they are marked welcomed
without being sent anything. The facilitators named in the settings run the community (on the
console, `you`): they get no newcomer welcome either.
"""

from __future__ import annotations

import logging
import string
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from bot import roles, state
from bot.arguments import Rest
from bot.commands import Command
from bot.context import Context
from bot.errors import UsageError
from bot.models import Activity, Identity, KeyValue, Member
from bot.patience import patiently
from bot.router import Router
from bot.types import MemberJoined
from bot.watch import Watch, sender
from handlers import onboarding

log = logging.getLogger(__name__)

router = Router()

SCOPE, KEY = "welcome", "template"
PLACEHOLDERS = ("name", "community", "channel")
MAX_TEMPLATE = 3000
RESET_WORD = "default"
MISSING_TEMPLATE = "Give the new welcome text, for example: welcome set Hello {name}!"

DEFAULT_TEMPLATE = (
    "Welcome to {community}, {name}! I'm Convener, the community's assistant.\n"
    "• Ask the community with `ask <question>`: I'll bring it to members who know the topic.\n"
    "• Find people who know a topic with `experts <topic>`, and browse `topics`.\n"
    "• Join the weekly discussions in {channel} and the other channels.\n"
    "Type `help` any time to see everything I can do."
)


def check_template(template: str) -> str:
    """The template, trimmed, if it uses only known placeholders; else UsageError."""
    template = template.strip()
    if not template:
        raise UsageError(MISSING_TEMPLATE)
    if len(template) > MAX_TEMPLATE:
        raise UsageError(f"That is too long for a welcome (at most {MAX_TEMPLATE} characters).")
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        raise UsageError(
            "The template has an unmatched `{` or `}`; write `{{` or `}}` for a brace itself."
        ) from exc
    for name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise UsageError(f"`{{{name[:30]}}}` is not a placeholder I know; use {known}.")
    return template


def render(template: str, name: str, community: str, channel: str) -> str:
    values = {"name": name, "community": community, "channel": channel}
    try:
        return check_template(template).format(**values)
    except UsageError:
        log.warning("stored welcome template is invalid; using the default")
        return DEFAULT_TEMPLATE.format(**values)


async def _template(ctx: Context) -> tuple[str, bool]:
    """The welcome template and whether it is a facilitator's own."""
    async with ctx.db() as session:
        stored = await state.get(session, SCOPE, KEY)
    return (stored, True) if stored else (DEFAULT_TEMPLATE, False)


def _channel_label(name: str | None) -> str:
    return name or "the community's channels"


_members, _activity, _kv = Member.__table__, Activity.__table__, KeyValue.__table__
_STAMP = _members.c.joined_at.type
# The welcome's statements are built once (their compiled form and cache key are reused).
# Claiming the stamp also answers, in its RETURNING, whether the member was active before
# this join (`event_ts`) and what the stored template is: one statement instead of three.
_CLAIM = (
    update(_members)
    .where(_members.c.id == bindparam("member_id"), _members.c.welcomed_at.is_(None))
    .values(
        welcomed_at=bindparam("now", type_=_STAMP),
        joined_at=func.coalesce(_members.c.joined_at, bindparam("now", type_=_STAMP)),
    )
)
_ACTIVE_BEFORE = (
    exists()
    .where(
        _activity.c.member_id == bindparam("member_id"),
        _activity.c.kind.in_(("message", "reply", "reaction")),
        _activity.c.ts <= bindparam("event_ts", type_=_activity.c.ts.type),
    )
    .label("active_before")
)
_TEMPLATE = (
    select(_kv.c.value).where(_kv.c.scope == SCOPE, _kv.c.key == KEY).scalar_subquery()
).label("template")
_CLAIM_NEW = _CLAIM.returning(_TEMPLATE)  # created for this event: nothing done before
_CLAIM_SEEN = _CLAIM.returning(_ACTIVE_BEFORE, _TEMPLATE)
_JOINED = (
    update(_members)
    .where(_members.c.id == bindparam("member_id"), _members.c.joined_at.is_(None))
    .values(joined_at=bindparam("now", type_=_STAMP))
)


def _open_welcome(
    session: Session, member_id: int, event: MemberJoined, now: datetime, is_new: bool
) -> str | None:
    """Claim the member's welcomed_at stamp and open onboarding, in one unit of work: the
    template to send, or None when there is nobody to welcome (welcomed already, or active
    before their first join was seen: a member from before Convener was installed)."""
    if is_new:
        claimed = session.execute(_CLAIM_NEW, {"member_id": member_id, "now": now}).first()
        active_before = False
    else:
        claimed = session.execute(
            _CLAIM_SEEN, {"member_id": member_id, "now": now, "event_ts": event.ts}
        ).first()
        active_before = claimed is not None and claimed.active_before
    if claimed is None:
        session.execute(_JOINED, {"member_id": member_id, "now": now})
    if claimed is None or active_before:
        session.commit()
        return None
    onboarding.start(session, member_id, event.user, now)
    session.commit()
    return claimed.template or DEFAULT_TEMPLATE


def _welcomed(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(Identity.platform, Identity.user_id)
        .join(Member, Member.id == Identity.member_id)
        .where(Member.welcomed_at.is_not(None))
    )
    if since is not None:
        query = query.where(Member.welcomed_at >= since)
    return [(platform, user_id) for platform, user_id in session.execute(query)]


WELCOMED = Watch("welcomed members", _welcomed, sender)
"""Members welcomed already: their joins need nothing."""


@router.on(
    MemberJoined,
    when=lambda event: not event.channel.is_direct,
    once_per_user=True,
    unless=WELCOMED,
)
async def welcome_newcomer(ctx: Context, event: MemberJoined) -> bool:
    """Welcome a member on their first join; the welcomed_at stamp is claimed atomically so a
    member is welcomed once, even by several replicas or two joins at once."""
    if roles.FACILITATOR in roles.configured_for(event.user, ctx.settings):
        return False
    now = ctx.now()
    name = await ctx.platform.display_name(event.user)
    member = ctx.sender.member
    template = await ctx.db.unit(_open_welcome, member.id, event, now, ctx.sender.is_new)
    if template is None:
        ctx.watch(WELCOMED, event.user.platform, event.user.id)
        return False
    text = render(template, name, ctx.settings.community_name, _channel_label(event.channel.name))

    async def send() -> None:
        await ctx.platform.send_dm(event.user, text)
        await ctx.platform.send_dm(event.user, onboarding.opening())

    try:
        await patiently(ctx, event.user.platform, send, f"welcoming {event.user.id}", reraise=True)
    except Exception:
        await _unwelcome(ctx, member.id)  # the next delivery or join retries
        raise
    ctx.watch(WELCOMED, event.user.platform, event.user.id)
    ctx.watch(onboarding.CONVERSATIONS, event.user.platform, event.user.id)
    if ctx.settings.welcome_in_channel:
        await ctx.platform.send(
            event.channel, f"Welcome, {name}! 👋 Glad to have you in {ctx.settings.community_name}."
        )
    return False


async def _unwelcome(ctx: Context, member_id: int) -> None:
    """Not welcomed after all: the next delivery of the join, or the next join, tries again."""
    async with ctx.db() as session:
        await session.execute(update(Member).where(Member.id == member_id).values(welcomed_at=None))
        await onboarding.forget(session, member_id)
        await session.commit()


@router.command(
    "welcome",
    extra="Use `welcome set <template>` or `welcome test`.",
    summary="show the welcome message new members get",
    roles=[roles.FACILITATOR],
)
async def show_welcome(ctx: Context, cmd: Command) -> str:
    template, custom = await _template(ctx)
    greeting = "on" if ctx.settings.welcome_in_channel else "off"
    return (
        f"The welcome message ({'set by a facilitator' if custom else 'the default'}):\n\n"
        f"{template}\n\n"
        f"Placeholders: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}. "
        f"A greeting in the channel is {greeting} (CONVENER_WELCOME_IN_CHANNEL). "
        "After it I ask newcomers a few questions for their profile."
    )


@router.command(
    "welcome set",
    args=[Rest("template", missing=MISSING_TEMPLATE)],
    summary="change the welcome message (`welcome set default` restores mine)",
    example="welcome set Welcome to {community}, {name}! Say hello in {channel}.",
    roles=[roles.FACILITATOR],
)
async def set_welcome(ctx: Context, cmd: Command) -> str:
    if cmd.values.template.lower() == RESET_WORD:
        async with ctx.db() as session:
            await state.delete(session, SCOPE, KEY)
            await session.commit()
        return "The welcome message is back to the default."
    template = check_template(cmd.values.template)
    async with ctx.db() as session:
        await state.put(session, SCOPE, KEY, template)
        await session.commit()
    preview = await _preview(ctx, cmd)
    return f"Saved the welcome message. A newcomer will read:\n\n{preview}"


async def _preview(ctx: Context, cmd: Command) -> str:
    template, _ = await _template(ctx)
    name = await ctx.platform.display_name(cmd.sender)
    channel = None if cmd.channel.is_direct else cmd.channel.name
    return render(template, name, ctx.settings.community_name, _channel_label(channel))


@router.command(
    "welcome test",
    extra="Just `welcome test`.",
    summary="send yourself the welcome as a newcomer gets it",
    roles=[roles.FACILITATOR],
)
async def test_welcome(ctx: Context, cmd: Command) -> str:
    await ctx.platform.send_dm(cmd.sender, await _preview(ctx, cmd))
    return (
        "Sent you the welcome by direct message, as a newcomer gets it. "
        f"After it I ask {len(onboarding.STEPS)} questions: city, organisation and role, "
        "topics they can help with, topics they want to learn."
    )
