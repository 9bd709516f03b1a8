"""Roles: `roles`, `role grant|revoke @user facilitator|coordinator`."""

from __future__ import annotations

from bot import members, roles
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.router import Router

router = Router()

ROLE_USAGE = "role grant|revoke @user facilitator|coordinator"


@router.command(
    "roles",
    usage="roles",
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


def _parse(cmd: Command) -> tuple[str, str]:
    if len(cmd.argv) != 2:
        raise UsageError("Name one member and one role.")
    who, role = cmd.argv[0], cmd.argv[1].lower().rstrip("s")
    if role not in roles.ROLES:
        raise UsageError(f"`{cmd.argv[1][:30]}` is not a role; use facilitator or coordinator.")
    return who, role


@router.command(
    "role grant",
    usage=ROLE_USAGE.replace("grant|revoke", "grant"),
    summary="give a member a role",
    example="role grant @amina coordinator",
    roles=[roles.FACILITATOR],
)
async def grant_role(ctx: Context, cmd: Command) -> str:
    who, role = _parse(cmd)
    async with ctx.db() as session:
        member = await members.from_mention(session, ctx.platform, who)
        if member.is_bot:
            raise CommandError("Bots cannot hold roles.")
        added = await roles.grant(session, member.id, role, by=cmd.member_id)
        await session.commit()
    if not added:
        return f"{member.display_name} is already a {role}."
    return f"{member.display_name} is now a {role}."


@router.command(
    "role revoke",
    usage=ROLE_USAGE.replace("grant|revoke", "revoke"),
    summary="take a role away",
    example="role revoke @amina coordinator",
    roles=[roles.FACILITATOR],
)
async def revoke_role(ctx: Context, cmd: Command) -> str:
    who, role = _parse(cmd)
    async with ctx.db() as session:
        member = await members.from_mention(session, ctx.platform, who)
        removed = await roles.revoke(session, member.id, role)
        configured = await roles.is_configured(session, member.id, role, ctx.settings)
        if role == roles.FACILITATOR and removed and not configured:
            remaining = await roles.holders(session, ctx.settings)
            if not remaining[roles.FACILITATOR]:
                raise CommandError("That would leave no facilitator; grant another one first.")
        await session.commit()
    if configured:
        return (
            f"{member.display_name} is a {role} by configuration "
            f"(CONVENER_{role.upper()}S); change it there."
        )
    if not removed:
        return f"{member.display_name} was not a {role}."
    return f"{member.display_name} is no longer a {role}."
