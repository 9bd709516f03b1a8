"""Roles and the audit log: `roles`, `role grant|revoke @user facilitator|coordinator`,
`audit [days]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot import members, roles
from bot.arguments import Argument, Days, Mention
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import AuditEntry, Member
from bot.router import Router

router = Router()

ONE_OF_EACH = "Name one member and one role."


@dataclass(frozen=True)
class Role(Argument):
    """A role by name, any case, singular or plural (`coordinators`)."""

    name: str = "role"
    label: str = "facilitator|coordinator"

    def parse(self, word: str) -> str:
        role = word.lower().rstrip("s")
        if role not in roles.ROLES:
            raise UsageError(f"`{word[:30]}` is not a role; use facilitator or coordinator.")
        return role


ROLE_ARGS = [Mention(missing=ONE_OF_EACH), Role(missing=ONE_OF_EACH)]


@router.command(
    "roles",
    extra="Just `roles`.",
    summary="who the facilitators and coordinators are",
    roles=[roles.FACILITATOR],
)
async def list_roles(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        held = await roles.holders(session, ctx.settings)
    lines = []
    for role in roles.ROLES:
        names = ", ".join(m.display_name for m in held.get(role, [])) or "nobody yet"
        lines.append(f"{role.capitalize()}s: {names}")
    return "\n".join(lines)


def _is_bot(ctx: Context, member: Member, who: str) -> bool:
    me = ctx.platform.bot_user
    user = ctx.platform.user_from_mention(who.strip())
    return member.is_bot or (me is not None and user is not None and user.id == me.id)


async def _change(ctx: Context, cmd: Command, grant: bool) -> str:
    who, role = cmd.values.member, cmd.values.role
    async with ctx.db() as session:
        member = await members.from_mention(session, ctx.platform, who)
    if grant and _is_bot(ctx, member, who):
        raise CommandError("Bots cannot hold roles.")
    outcome = await ctx.db.unit(
        roles.change, member.id, role, grant, ctx.settings, ctx.now(), ctx.sender.member_id
    )
    name = member.display_name
    match outcome:
        case roles.Outcome.GRANTED:
            return f"{name} is now a {role}."
        case roles.Outcome.ALREADY:
            return f"{name} is already a {role}."
        case roles.Outcome.REVOKED:
            return f"{name} is no longer a {role}."
        case roles.Outcome.NOT_HELD:
            return f"{name} was not a {role}."
        case roles.Outcome.CONFIGURED:
            return (
                f"{name} is a {role} by configuration (CONVENER_{role.upper()}S); change it there."
            )
    raise CommandError(f"{name} is the last facilitator; grant another one first.")


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
    extra="Give a number of days, for example: audit 30",
    summary="role changes, links, erasures and report pulls (default: last 30 days)",
    example="audit 90",
    roles=[roles.FACILITATOR],
)
async def show_audit(ctx: Context, cmd: Command) -> str:
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
        return f"Nothing in the audit log for the last {days} days."
    zone = ZoneInfo(ctx.settings.timezone)
    lines = [f"Audit log, last {days} days, newest first:"]
    for entry, by, to in rows[:AUDIT_LINES]:
        who = by or ("the settings" if entry.action.startswith("role") else "the command line")
        line = f"{entry.at.astimezone(zone):%Y-%m-%d %H:%M} {entry.action}"
        if to and entry.subject_id != entry.actor_id:
            line += f" {to}"
        if entry.detail:
            line += f": {entry.detail}"
        lines.append(f"{line} (by {who})")
    if len(rows) > AUDIT_LINES:
        lines.append(f"Only the newest {AUDIT_LINES} are shown; ask for fewer days for the rest.")
    return "\n".join(lines)
