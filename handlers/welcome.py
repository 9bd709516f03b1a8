"""The welcome: a direct message to each member the first time they join a channel (once per
community, never again on rejoining), an optional greeting in the channel
(`CONVENER_WELCOME_IN_CHANNEL`), and the first onboarding question. Facilitators manage the
template with `welcome`, `welcome set <template>` and `welcome test`.

The welcome is in the newcomer's language: their own (on Slack, their locale sets it at first
sight), else the community's. Each language may have a facilitator's template
(`welcome set fr <template>`); a language without one gets the built-in welcome in that
language, never another language's text. The welcome ends with one line offering the choice
of language.

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
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from bot import i18n, roles, state
from bot.arguments import Choice, Rest
from bot.commands import Command
from bot.context import Context
from bot.errors import UsageError
from bot.i18n import Message, Text, _, lines, n_, verbatim
from bot.models import Activity, Identity, KeyValue, Member
from bot.patience import patiently
from bot.router import Router
from bot.types import MemberJoined
from bot.watch import Watch, sender
from handlers import onboarding

log = logging.getLogger(__name__)

router = Router()

SCOPE, LEGACY_KEY = "welcome", "template"  # the community language's, before languages
PLACEHOLDERS = ("name", "community", "channel")
MAX_TEMPLATE = 3000
RESET_WORD = "default"
MISSING_TEMPLATE = _("Give the new welcome text, for example: welcome set Hello {{name}}!")

DEFAULT_TEMPLATE = _(
    "Welcome to {community}, {name}! I'm Convener, the community's assistant.\n"
    "• Ask the community with `ask <question>`: I'll bring it to members who know the topic.\n"
    "• Find people who know a topic with `experts <topic>`, and browse `topics`.\n"
    "• Join the weekly discussions in {channel} and the other channels.\n"
    "Type `help` any time to see everything I can do."
)
CHOOSE_LANGUAGE = _("I speak {languages}: type `profile language <code>` to choose.")


def key_for(language: str) -> str:
    return f"template:{language}"


def language_choice() -> Message:
    """The welcome's last line: the languages on offer and how to choose one."""
    offered = ", ".join(f"{i18n.name_of(code)} (`{code}`)" for code in i18n.available())
    return Text(CHOOSE_LANGUAGE.msgid, {"languages": offered})


def check_template(template: str) -> str:
    """The template, trimmed, if it uses only known placeholders; else UsageError."""
    template = template.strip()
    if not template:
        raise UsageError(MISSING_TEMPLATE)
    if len(template) > MAX_TEMPLATE:
        raise UsageError(_("That is too long for a welcome (at most {most} characters).",
                           most=MAX_TEMPLATE))  # fmt: skip
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        raise UsageError(_(
            "The template has an unmatched `{{` or `}}`; write `{{{{` or `}}}}` for a brace "
            "itself."
        )) from exc  # fmt: skip
    for name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise UsageError(_("`{{{name}}}` is not a placeholder I know; use {known}.",
                               name=name[:30], known=known))  # fmt: skip
    return template


def render(
    template: str | None, name: str, community: str, channel: str | None, language: str
) -> Message:
    """The welcome in `language`: a facilitator's template for it, else the built-in one."""
    where = channel or i18n.render(_("the community's channels"), language)
    values = {"name": name, "community": community, "channel": where}
    if template is not None:
        try:
            return verbatim(check_template(template).format(**values))
        except UsageError:
            log.warning("stored welcome template is invalid; using the default")
    return Text(DEFAULT_TEMPLATE.msgid, values)


async def _template(ctx: Context, language: str) -> str | None:
    """A facilitator's welcome template in `language` (None: the built-in one)."""
    async with ctx.db() as session:
        stored = await state.get(session, SCOPE, key_for(language))
        if stored is None and language == ctx.languages.default:
            stored = await state.get(session, SCOPE, LEGACY_KEY)
    return stored


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
        language=func.coalesce(_members.c.language, bindparam("language", type_=String(16))),
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


def _stored(key: str):
    return select(_kv.c.value).where(_kv.c.scope == SCOPE, _kv.c.key == bindparam(key))


_TEMPLATE = func.coalesce(
    _stored("template_key").scalar_subquery(), _stored("legacy_key").scalar_subquery()
).label("template")
_CLAIM_NEW = _CLAIM.returning(_TEMPLATE)  # created for this event: nothing done before
_CLAIM_SEEN = _CLAIM.returning(_ACTIVE_BEFORE, _TEMPLATE)
_JOINED = (
    update(_members)
    .where(_members.c.id == bindparam("member_id"), _members.c.joined_at.is_(None))
    .values(joined_at=bindparam("now", type_=_STAMP))
)


@dataclass(frozen=True, slots=True)
class Opened:
    template: str | None  # a facilitator's, for the newcomer's language


def _open_welcome(
    session: Session,
    member_id: int,
    event: MemberJoined,
    now: datetime,
    is_new: bool,
    language: str,
    found: str | None,
    community: str,
) -> Opened | None:
    """Claim the member's welcomed_at stamp and open onboarding, in one unit of work (a
    language `found` from the platform is kept unless they chose one): the facilitator's
    template for the newcomer's `language`, or None when there is nobody to welcome
    (welcomed already, or active before their first join was seen: a member from before
    Convener was installed)."""
    params = {
        "member_id": member_id, "now": now, "language": found,
        "template_key": key_for(language),
        "legacy_key": LEGACY_KEY if language == community else key_for(language),
    }  # fmt: skip
    if is_new:
        claimed = session.execute(_CLAIM_NEW, params).first()
        active_before = False
    else:
        claimed = session.execute(_CLAIM_SEEN, {**params, "event_ts": event.ts}).first()
        active_before = claimed is not None and claimed.active_before
    if claimed is None:
        session.execute(_JOINED, {"member_id": member_id, "now": now})
    if claimed is None or active_before:
        session.commit()
        return None
    onboarding.start(session, member_id, event.user, now)
    session.commit()
    return Opened(claimed.template)


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
    found = None if member.language else i18n.code(await ctx.platform.locale(event.user) or "")
    language = ctx.languages.of(member.language or found)
    opened = await ctx.db.unit(
        _open_welcome, member.id, event, now, ctx.sender.is_new, language, found,
        ctx.languages.default,
    )  # fmt: skip
    if opened is None:
        ctx.watch(WELCOMED, event.user.platform, event.user.id)
        return False
    if found:
        member.language = found  # this event's copy: the welcome is in it
    community = ctx.settings.community_name
    text = lines(render(opened.template, name, community, event.channel.name, language),
                 language_choice(), sep="\n\n")  # fmt: skip

    async def send() -> None:
        await ctx.platform.send_dm(event.user, text)
        await ctx.platform.send_dm(
            event.user, onboarding.opening(), actions=onboarding.FORM_ACTIONS
        )

    try:
        await patiently(ctx, event.user.platform, send, f"welcoming {event.user.id}", reraise=True)
    except Exception:
        await _unwelcome(ctx, member.id)  # the next delivery or join retries
        raise
    ctx.watch(WELCOMED, event.user.platform, event.user.id)
    ctx.watch(onboarding.CONVERSATIONS, event.user.platform, event.user.id)
    if ctx.settings.welcome_in_channel:
        await ctx.platform.send(
            event.channel,
            _("Welcome, {name}! 👋 Glad to have you in {community}.", name=name,
              community=community),
        )  # fmt: skip
    return False


async def _unwelcome(ctx: Context, member_id: int) -> None:
    """Not welcomed after all: the next delivery of the join, or the next join, tries again."""
    async with ctx.db() as session:
        await session.execute(update(Member).where(Member.id == member_id).values(welcomed_at=None))
        await onboarding.forget(session, member_id)
        await session.commit()


def _language_argument() -> Choice:
    return Choice(
        "language", words=i18n.available(), optional=True, label="<language>", what="language"
    )


def _in(cmd: Command, ctx: Context) -> str:
    return cmd.values.language or ctx.languages.default


@router.command(
    "welcome",
    args=[_language_argument()],
    extra=_("Use `welcome set [<language>] <template>` or `welcome test [<language>]`."),
    summary="show the welcome message new members get (in a language: `welcome fr`)",
    roles=[roles.FACILITATOR],
)
async def show_welcome(ctx: Context, cmd: Command) -> Message:
    language = _in(cmd, ctx)
    template = await _template(ctx, language)
    shown = template if template is not None else i18n.pattern(DEFAULT_TEMPLATE, language)
    name = i18n.name_of(language)
    return lines(
        _("The welcome message in {language} (set by a facilitator):", language=name)
        if template is not None
        else _("The welcome message in {language} (the default):", language=name),
        verbatim(shown),
        lines(
            _("Placeholders: {placeholders}.",
              placeholders=", ".join("{" + p + "}" for p in PLACEHOLDERS)),
            _("A greeting in the channel is on (CONVENER_WELCOME_IN_CHANNEL).")
            if ctx.settings.welcome_in_channel
            else _("A greeting in the channel is off (CONVENER_WELCOME_IN_CHANNEL)."),
            _("After it I ask newcomers a few questions for their profile."),
            sep=" ",
        ),
        sep="\n\n",
    )  # fmt: skip


@router.command(
    "welcome set",
    args=[_language_argument(), Rest("template", missing=MISSING_TEMPLATE)],
    summary="change the welcome message for a language (`welcome set default` restores mine)",
    example="welcome set Welcome to {community}, {name}! Say hello in {channel}.",
    roles=[roles.FACILITATOR],
)
async def set_welcome(ctx: Context, cmd: Command) -> Message:
    language = _in(cmd, ctx)
    if cmd.values.template.lower() == RESET_WORD:
        async with ctx.db() as session:
            await state.delete(session, SCOPE, key_for(language))
            if language == ctx.languages.default:
                await state.delete(session, SCOPE, LEGACY_KEY)
            await session.commit()
        return _(
            "The welcome message in {language} is back to the default.",
            language=i18n.name_of(language),
        )
    template = check_template(cmd.values.template)
    async with ctx.db() as session:
        await state.put(session, SCOPE, key_for(language), template)
        if language == ctx.languages.default:
            await state.delete(session, SCOPE, LEGACY_KEY)
        await session.commit()
    preview = await _preview(ctx, cmd, language)
    return lines(
        _(
            "Saved the welcome message in {language}. A newcomer will read:",
            language=i18n.name_of(language),
        ),
        preview,
        sep="\n\n",
    )


async def _preview(ctx: Context, cmd: Command, language: str) -> Message:
    """The welcome a newcomer reading `language` gets, as they read it (whoever looks)."""
    template = await _template(ctx, language)
    name = await ctx.platform.display_name(cmd.sender)
    channel = None if cmd.channel.is_direct else cmd.channel.name
    welcome = render(template, name, ctx.settings.community_name, channel, language)
    return verbatim(i18n.render(welcome, language))


@router.command(
    "welcome test",
    args=[_language_argument()],
    extra=_("Just `welcome test`, or `welcome test <language>`."),
    summary="send yourself the welcome as a newcomer gets it",
    roles=[roles.FACILITATOR],
)
async def test_welcome(ctx: Context, cmd: Command) -> Message:
    language = _in(cmd, ctx)
    await ctx.platform.send_dm(cmd.sender, await _preview(ctx, cmd, language))
    return n_(
        "Sent you the welcome by direct message, as a newcomer gets it. After it I ask {n} "
        "question: city, organisation and role, topics they can help with, topics they want "
        "to learn.",
        "Sent you the welcome by direct message, as a newcomer gets it. After it I ask {n} "
        "questions: city, organisation and role, topics they can help with, topics they want "
        "to learn.",
        len(onboarding.STEPS),
    )
