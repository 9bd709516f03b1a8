"""Roles, the audit log and channels' languages: `roles`, `role grant|revoke @user
facilitator|coordinator`, `audit [days]`, `channel language [<code>|default]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot import i18n, languages, members, roles
from bot.arguments import Argument, Days, Mention, Rest
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines, n_
from bot.models import AuditEntry, Member
from bot.router import Router

router = Router()

ONE_OF_EACH = _("Name one member and one role.")
ROLE_NAMES = {roles.FACILITATOR: _("facilitator"), roles.COORDINATOR: _("coordinator")}
COMMUNITY_WORDS = {"default", "none", "-"}  # `channel language default`: the community's


@dataclass(frozen=True)
class Role(Argument):
    """A role by name, any case, singular or plural (`coordinators`)."""

    name: str = "role"
    label: str = "facilitator|coordinator"

    def parse(self, word: str) -> str:
        role = word.lower().rstrip("s")
        if role not in roles.ROLES:
            raise UsageError(
                _("`{word}` is not a role; use facilitator or coordinator.", word=word[:30])
            )
        return role


ROLE_ARGS = [Mention(missing=ONE_OF_EACH), Role(missing=ONE_OF_EACH)]


@router.command(
    "roles",
    extra=_("Just `roles`."),
    summary="who the facilitators and coordinators are",
    roles=[roles.FACILITATOR],
)
async def list_roles(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        held = await roles.holders(session, ctx.settings)
    return lines(*(_holders(role, held.get(role, [])) for role in roles.ROLES))


def _holders(role: str, held: list[Member]) -> Message:
    names = ", ".join(m.display_name for m in held) or _("nobody yet")
    if role == roles.FACILITATOR:
        return _("Facilitators: {names}", names=names)
    if role == roles.COORDINATOR:
        return _("Coordinators: {names}", names=names)
    return _("{role}: {names}", role=role, names=names)


def _is_bot(ctx: Context, member: Member, who: str) -> bool:
    me = ctx.platform.bot_user
    user = ctx.platform.user_from_mention(who.strip())
    return member.is_bot or (me is not None and user is not None and user.id == me.id)


async def _change(ctx: Context, cmd: Command, grant: bool) -> Message:
    who, role = cmd.values.member, cmd.values.role
    async with ctx.db() as session:
        member = await members.from_mention(session, ctx.platform, who)
    if grant and _is_bot(ctx, member, who):
        raise CommandError(_("Bots cannot hold roles."))
    outcome = await ctx.db.unit(
        roles.change, member.id, role, grant, ctx.settings, ctx.now(), ctx.sender.member_id
    )
    name, said = member.display_name, ROLE_NAMES.get(role, role)
    match outcome:
        case roles.Outcome.GRANTED:
            return _("{name} is now a {role}.", name=name, role=said)
        case roles.Outcome.ALREADY:
            return _("{name} is already a {role}.", name=name, role=said)
        case roles.Outcome.REVOKED:
            return _("{name} is no longer a {role}.", name=name, role=said)
        case roles.Outcome.NOT_HELD:
            return _("{name} was not a {role}.", name=name, role=said)
        case roles.Outcome.CONFIGURED:
            setting = f"CONVENER_{role.upper()}S"
            return _("{name} is a {role} by configuration ({setting}); change it there.",
                     name=name, role=said, setting=setting)  # fmt: skip
    raise CommandError(_("{name} is the last facilitator; grant another one first.", name=name))


@router.command(
    "role grant",
    args=ROLE_ARGS,
    extra=ONE_OF_EACH,
    summary="give a member a role",
    example="role grant @amina coordinator",
    roles=[roles.FACILITATOR],
)
async def grant_role(ctx: Context, cmd: Command) -> str:
    return await _change(ctx, cmd, grant=True)


@router.command(
    "role revoke",
    args=ROLE_ARGS,
    extra=ONE_OF_EACH,
    summary="take a role away",
    example="role revoke @amina coordinator",
    roles=[roles.FACILITATOR],
)
async def revoke_role(ctx: Context, cmd: Command) -> str:
    return await _change(ctx, cmd, grant=False)


AUDIT_LINES = 40


@router.command(
    "audit",
    args=[Days(default=30, most=3650, example="audit 30", label="days")],
    extra=_("Give a number of days, for example: audit 30"),
    summary="role changes, links, erasures and report pulls (default: last 30 days)",
    example="audit 90",
    roles=[roles.FACILITATOR],
)
async def show_audit(ctx: Context, cmd: Command) -> Message:
    days = cmd.values.days
    since = ctx.now() - timedelta(days=days)
    actor, subject = aliased(Member), aliased(Member)
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(AuditEntry, actor.display_name, subject.display_name)
                .outerjoin(actor, actor.id == AuditEntry.actor_id)
                .outerjoin(subject, subject.id == AuditEntry.subject_id)
                .where(AuditEntry.at >= since)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(AUDIT_LINES + 1)
            )
        ).all()
    if not rows:
        return n_("Nothing in the audit log for the last {n} day.",
                  "Nothing in the audit log for the last {n} days.", days)  # fmt: skip
    zone = ZoneInfo(ctx.settings.timezone)
    shown: list[Message] = []
    for entry, by, to in rows[:AUDIT_LINES]:
        who = by or (
            _("the settings") if entry.action.startswith("role") else _("the command line")
        )
        line = f"{entry.at.astimezone(zone):%Y-%m-%d %H:%M} {entry.action}"  # a record, as kept
        if to and entry.subject_id != entry.actor_id:
            line += f" {to}"
        if entry.detail:
            line += f": {entry.detail}"
        shown.append(_("{entry} (by {who})", entry=line, who=who))
    return lines(
        n_("Audit log, last {n} day, newest first:",
           "Audit log, last {n} days, newest first:", days),
        *shown,
        n_("Only the newest {n} is shown; ask for fewer days for the rest.",
           "Only the newest {n} are shown; ask for fewer days for the rest.", AUDIT_LINES)
        if len(rows) > AUDIT_LINES else None,
    )  # fmt: skip


@router.command(
    "channel language",
    args=[Rest("code", optional=True, label="<code>|default")],
    summary="the language I speak in this channel",
    example="channel language fr",
    roles=[roles.FACILITATOR],
)
async def channel_language(ctx: Context, cmd: Command) -> Message:
    if cmd.channel.is_direct:
        raise CommandError(
            _("Type `channel language` in the channel whose language you want to set.")
        )
    community = i18n.name_of(ctx.languages.default)
    given = (cmd.values.code or "").strip()
    if not given:
        chosen = ctx.languages.channel_choice(cmd.channel)
        if chosen is None:
            return _("This channel follows the community's language, {language}.",
                     language=community)  # fmt: skip
        return _("This channel's language is {language}.", language=i18n.name_of(chosen))
    code = None if given.lower() in COMMUNITY_WORDS else languages.chosen(given)
    async with ctx.db() as session:
        await ctx.languages.set_channel(session, cmd.channel, code)
        await session.commit()
    if code is None:
        return _("Saved: this channel now follows the community's language, {language}.",
                 language=community)  # fmt: skip
    return _("Saved: this channel's language is {language}.", language=i18n.name_of(code))
