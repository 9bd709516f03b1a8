"""`call add` (facilitators) announces a call for expressions of interest in this channel;
`calls` lists the open ones; `interest <id> <note>` and `interest withdraw <id>` express,
change or withdraw one's interest until the deadline."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select, update

from bot import members, roles, topics
from bot.arguments import Day, Number, Rest
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.models import Call, CallInterest, CallTopic, Member
from bot.router import Router
from handlers.calls import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
SAY_WHEN = 'Say when it closes and what it is: call add 2026-04-30 "<title>"'
WHICH_CALL = "Which call? For example: interest 3 I led our city's budget reform"
WHICH_TO_WITHDRAW = "Which call? For example: interest withdraw 3"


@router.command(
    "call add",
    args=[
        Day(missing=SAY_WHEN),
        Rest("what", label='"<title>" [: topic, ...]', missing=service.NO_TITLE),
    ],
    summary="announce a call for interest here, open to the end of that day",
    example='call add 2026-04-30 "Peer review panel on budget transparency": budgeting',
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> str:
    if cmd.channel.is_direct:
        raise CommandError("Type this in the channel where the call should be announced.")
    day = cmd.values.date
    zone = ctx.settings.timezone
    deadline = service.deadline_of(day, zone)
    now = ctx.now()
    if deadline <= now:
        raise CommandError(f"{day:%a %d %b %Y} has passed; choose today or a later date.")
    title, names = service.split_title(cmd.values.what)
    async with ctx.db() as session:
        chosen = await topics.known_all(session, names)
        channel = await members.resolve_channel(session, cmd.channel)
        call = Call(
            title=title,
            deadline=deadline,
            channel_id=channel.id,
            message_id="",
            created_by=ctx.sender.member_id,
            created_at=now,
        )
        session.add(call)
        await session.flush()
        session.add_all(CallTopic(call_id=call.id, topic_id=t.id) for t in chosen)
        await session.commit()
    topic_line = f"Topics: {', '.join(t.name for t in chosen)}.\n" if chosen else ""
    text = (
        f"📣 **Call #{call.id}: {title}**\n"
        f"Open for expressions of interest until the end of {service.show_day(call, zone)} "
        f"({zone}).\n{topic_line}"
        f"To express interest: `interest {call.id} <a short note>` (your city, organisation "
        f"and role from your profile go with it). Change it the same way, or "
        f"`interest withdraw {call.id}`, until the deadline."
    )
    try:
        posted = await ctx.platform.send(cmd.channel, text)
    except BaseException:
        await asyncio.shield(_forget(ctx, call.id))
        raise
    async with ctx.db() as session:
        await session.execute(
            update(Call).where(Call.id == call.id).values(message_id=posted.message_id)
        )
        await session.commit()
    return (
        f"Announced call #{call.id} here; it closes at the end of "
        f"{service.show_day(call, zone)} ({zone}), and the facilitators and coordinators then "
        "get the list of who is interested."
    )


async def _forget(ctx: Context, call_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(Call).where(Call.id == call_id))
        await session.commit()


@router.command("calls", extra="Just `calls`.", summary="open calls for interest")
async def list_calls(ctx: Context, cmd: Command) -> str:
    zone = ctx.settings.timezone
    async with ctx.db() as session:
        rows = await service.open_calls(session, ctx.now())
        mine = set(
            await session.scalars(
                select(CallInterest.call_id).where(
                    CallInterest.member_id == ctx.sender.member_id,
                    CallInterest.withdrawn_at.is_(None),
                )
            )
        )
        shown = rows[: service.LISTED]
        named = {call.id: await service.topic_names(session, call.id) for call, _ in shown}
    if not rows:
        return "No calls are open just now."
    lines = ["Open calls, soonest deadline first:"]
    for call, count in shown:
        topics = f" · {', '.join(named[call.id])}" if named.get(call.id) else ""
        you = " (you included)" if call.id in mine else ""
        lines.append(
            f"• #{call.id} {call.title} · until the end of {service.show_day(call, zone)} · "
            f"{count} interested{you}{topics}"
        )
    if len(rows) > service.LISTED:
        lines.append(f"… and {len(rows) - service.LISTED} more.")
    lines.append("Express interest with `interest <id> <a short note>`.")
    return "\n".join(lines)


@router.command(
    "interest",
    args=[
        Number("id", "call", missing=WHICH_CALL),
        Rest("note", label="<a short note>", missing=service.NO_NOTE),
    ],
    summary="express or change your interest in a call",
    example="interest 3 I led our city's participatory budgeting reform",
)
async def interest(ctx: Context, cmd: Command) -> str:
    call_id = cmd.values.id
    zone = ctx.settings.timezone
    now = ctx.now()
    async with ctx.db() as session:
        call = await service.get(session, call_id)
        if not service.is_open(call, now):
            return service.closed_answer(call, zone)
        note = service.check_note(cmd.values.note)
        member = await session.get(Member, ctx.sender.member_id)
        fresh = await service.express(session, call, member, note, now)
        await session.commit()
    profile = " · ".join(p for p in (member.city, member.org, member.role_title) if p)
    with_profile = (
        f" With your profile: {profile}."
        if profile
        else " Your profile is empty: add your city, organisation and role with "
        "`profile city|org|role <value>` and express interest again."
    )
    return (
        f"{'Noted' if fresh else 'Updated'} your interest in call #{call.id} ({call.title})."
        f"{with_profile} You can change it with `interest {call.id} <note>` or "
        f"`interest withdraw {call.id}` until the end of {service.show_day(call, zone)}."
    )


@router.command(
    "interest withdraw",
    args=[Number("id", "call", missing=WHICH_TO_WITHDRAW)],
    extra=WHICH_TO_WITHDRAW,
    summary="withdraw it before the deadline",
    example="interest withdraw 3",
)
async def withdraw(ctx: Context, cmd: Command) -> str:
    call_id = cmd.values.id
    zone = ctx.settings.timezone
    now = ctx.now()
    async with ctx.db() as session:
        call = await service.get(session, call_id)
        if not service.is_open(call, now):
            return service.closed_answer(call, zone, "changed")
        done = await session.execute(
            update(CallInterest)
            .where(
                CallInterest.call_id == call.id,
                CallInterest.member_id == ctx.sender.member_id,
                CallInterest.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=now, updated_at=now)
        )
        await session.commit()
    if not done.rowcount:
        raise CommandError(f"You have not expressed interest in call #{call.id}.")
    return f"Withdrawn: you are no longer on the list for call #{call.id} ({call.title})."
