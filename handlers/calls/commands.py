"""`call add` (facilitators) announces a call for expressions of interest in this channel,
with a choice to express interest (a button, a Matrix poll); `calls` lists the open ones;
`interest <id> [<note>]` and `interest withdraw <id>` express, change or withdraw one's
interest until the deadline."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, update

from bot import home, members, roles, topics
from bot.arguments import Day, Number, Rest
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _, lines, n_
from bot.models import Call, CallInterest, CallTopic, Member
from bot.router import Router
from handlers.calls import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
SAY_WHEN = _('Say when it closes and what it is: call add 2026-04-30 "<title>"')
WHICH_CALL = _("Which call? For example: interest 3 I led our city's budget reform")
WHICH_TO_WITHDRAW = _("Which call? For example: interest withdraw 3")


@router.command(
    "call add",
    args=[
        Day(missing=SAY_WHEN),
        Rest("what", label='"<title>" [: topic, ...]', missing=service.NO_TITLE),
    ],
    summary="announce a call for interest here",
    example='call add 2026-04-30 "Peer review panel on budget transparency": budgeting',
    roles=FACILITATORS,
)
async def add(ctx: Context, cmd: Command) -> Message:
    if cmd.channel.is_direct:
        raise CommandError(_("Type this in the channel where the call should be announced."))
    zone = ctx.settings.timezone
    now = ctx.now()
    deadline = service.open_until(cmd.values.date, zone, now)
    if "title" in cmd.values:  # the form's fields (`handlers.calls.forms`)
        title, names = " ".join(cmd.values.title.split()), cmd.values.topics or []
    else:
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
        await home.changed_for_everyone(session)
        await session.commit()
    until = service.show_day(call, zone)
    text = lines(
        _("📣 **Call #{id}: {title}**", id=call.id, title=title),
        _("Open for expressions of interest until the end of {day} ({zone}).",
          day=until, zone=zone),
        _("Topics: {topics}.", topics=", ".join(t.name for t in chosen)) if chosen else None,
        _("To express interest: `interest {id} <a short note>` (your city, organisation "
          "and role from your profile go with it). Change it the same way, or "
          "`interest withdraw {id}`, until the deadline.", id=call.id),
    )  # fmt: skip
    try:
        posted = await ctx.platform.send(cmd.channel, text, actions=service.actions(call.id))
    except BaseException:
        await asyncio.shield(_forget(ctx, call.id))
        raise
    async with ctx.db() as session:
        await session.execute(
            update(Call).where(Call.id == call.id).values(message_id=posted.message_id)
        )
        await session.commit()
    return _(
        "Announced call #{id} here; it is open until {deadline}, and the facilitators and "
        "coordinators then get the list of who is interested.",
        id=call.id, deadline=service.deadline(call, zone),
    )  # fmt: skip


async def _forget(ctx: Context, call_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(delete(Call).where(Call.id == call_id))
        await session.commit()


@router.command("calls", extra=_("Just `calls`."), summary="open calls for interest")
async def list_calls(ctx: Context, cmd: Command) -> Message:
    zone = ctx.settings.timezone
    async with ctx.db() as session:
        rows = await service.open_calls(session, ctx.now())
        mine = await service.notes_of(session, ctx.sender.member_id)
        shown = rows[: service.LISTED]
        named = {call.id: await service.topic_names(session, call.id) for call, _count in shown}
    if not rows:
        return _("No calls are open just now.")
    more = len(rows) - service.LISTED
    return lines(
        _("Open calls, soonest deadline first:"),
        *(_listed(call, count, call.id in mine, named.get(call.id), zone) for call, count in shown),
        n_("… and {n} more.", "… and {n} more.", more) if more > 0 else None,
        _("Express interest with `interest <id> <a short note>`."),
    )


def _listed(call: Call, count: int, mine: bool, names: list[str] | None, zone: str) -> Message:
    """`• #3 Panel · until the end of Fri 20 Mar 2026 (UTC) · 2 interested (you included) ·
    budgeting`"""
    if mine:
        interested = n_("{n} interested (you included)", "{n} interested (you included)", count)
    else:
        interested = n_("{n} interested", "{n} interested", count)
    said = {"id": call.id, "title": call.title, "deadline": service.deadline(call, zone)}
    if names:
        return _("• #{id} {title} · until {deadline} · {interested} · {topics}",
                 interested=interested, topics=", ".join(names), **said)  # fmt: skip
    return _("• #{id} {title} · until {deadline} · {interested}",
             interested=interested, **said)  # fmt: skip


@router.command(
    "interest",
    args=[
        Number("id", "call", missing=WHICH_CALL),
        Rest("note", label="<a short note>", optional=True),
    ],
    summary="express or change your interest in a call",
    example="interest 3 I led our city's participatory budgeting reform",
)
async def interest(ctx: Context, cmd: Command) -> Message:
    call_id = cmd.values.id
    zone = ctx.settings.timezone
    now = ctx.now()
    async with ctx.db() as session:
        call = await service.get(session, call_id)
        if not service.is_open(call, now):
            return service.closed_answer(call, zone)
        note = service.check_note(cmd.values.note)
        member = await session.get(Member, ctx.sender.member_id)
        fresh, note = await service.express(session, call, member, note, now)
        await session.commit()
    said = {"id": call.id, "title": call.title}
    profile = " · ".join(p for p in (member.city, member.org, member.role_title) if p)
    return lines(
        _("Noted your interest in call #{id} ({title}).", **said)
        if fresh
        else _("Updated your interest in call #{id} ({title}).", **said),
        _("With your profile: {profile}.", profile=profile)
        if profile
        else _("Your profile is empty: add your city, organisation and role with "
               "`profile city|org|role <value>` and express interest again."),
        None if note else _("Add a short note on why you are interested with "
                            "`interest {id} <a short note>`.", id=call.id),
        _("You can change it with `interest {id} <note>` or `interest withdraw {id}` until "
          "{deadline}.", id=call.id, deadline=service.deadline(call, zone)),
        sep=" ",
    )  # fmt: skip


@router.command(
    "interest withdraw",
    args=[Number("id", "call", missing=WHICH_TO_WITHDRAW)],
    extra=WHICH_TO_WITHDRAW,
    summary="withdraw it before the deadline",
    example="interest withdraw 3",
)
async def withdraw(ctx: Context, cmd: Command) -> Message:
    call_id = cmd.values.id
    zone = ctx.settings.timezone
    now = ctx.now()
    async with ctx.db() as session:
        call = await service.get(session, call_id)
        if not service.is_open(call, now):
            return service.closed_answer(call, zone, withdrawing=True)
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
        raise CommandError(_("You have not expressed interest in call #{id}.", id=call.id))
    return _("Withdrawn: you are no longer on the list for call #{id} ({title}).",
             id=call.id, title=call.title)  # fmt: skip
