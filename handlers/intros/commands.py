"""`intros` (the status), `intros on|off` (the rhythm for facilitators, taking part for
everyone else; `intros on|off me` for anyone), `intros every <n> weeks` and `intros now`
for facilitators, and `met yes|no` for everyone.

A rhythm turned on starts with the next Monday 09:00 in `CONVENER_TIMEZONE`; `intros now`
makes a round at once, whatever the rhythm."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import roles
from bot.arguments import Choice, Rest
from bot.commands import Command, split_words
from bot.context import Context
from bot.errors import CommandError, PermissionDenied, UsageError
from bot.i18n import Day, Message, _, lines, n_
from bot.router import ROLES_PLURAL, Router
from handlers.intros import service

router = Router()

FACILITATORS = [roles.FACILITATOR]
MOST_WEEKS = 12
ME = "me"
EVERY_EXAMPLE = _("Say how often, for example: intros on every 2 weeks (1 to 12 weeks).")
MET_OR_NOT = _("Did you meet? Say `met yes` or `met no`.")


def weeks(words: list[str]) -> int:
    """The `<n>` of `every <n> weeks` (words after `every`), 1 to `MOST_WEEKS`."""
    if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in
                                       ("week", "weeks")):  # fmt: skip
        raise UsageError(EVERY_EXAMPLE)
    word = words[0]
    if not (word.isascii() and word.isdigit()):
        raise UsageError(lines(_("`{word}` is not a number of weeks.", word=word[:20]),
                               EVERY_EXAMPLE, sep=" "))  # fmt: skip
    if not 1 <= int(word) <= MOST_WEEKS:
        raise UsageError(_("Choose between 1 and {most} weeks.", most=MOST_WEEKS))
    return int(word)


def _is_facilitator(ctx: Context) -> bool:
    return roles.permits(ctx.sender.roles, FACILITATORS)


def _only_facilitators(command: str) -> PermissionDenied:
    return PermissionDenied(_("Only {who} can use `{command}`.",
                              who=ROLES_PLURAL[roles.FACILITATOR], command=command))  # fmt: skip


@router.command(
    "intros",
    extra=_("Just `intros`; `help intros` explains the rest."),
    summary="introductions between cities: the rhythm, and whether you take part",
)
async def status(ctx: Context, cmd: Command) -> Message:
    rhythm, opted_out = await service.status_of(ctx, ctx.sender.member)
    member = ctx.sender.member
    if rhythm is None or not rhythm.active:
        head = _("Introductions between cities are off.")
    else:
        zone = member.timezone or ctx.settings.timezone
        when = Day(rhythm.next_round_at.astimezone(ZoneInfo(zone)), "EEE dd MMM y HH:mm")
        head = n_("Introductions between cities are on, every week; next round {when} ({zone}).",
                  "Introductions between cities are on, every {n} weeks; next round {when} "
                  "({zone}).", rhythm.every_weeks, when=when, zone=zone)  # fmt: skip
    if opted_out:
        mine = _("You have opted out; `intros on me` to take part again.")
    elif member.is_away and (member.away_until is None or member.away_until > ctx.now()):
        mine = _("You take part, but while you are away rounds leave you out.")
    elif not (member.city or "").strip():
        mine = _("You take part once your profile has a city: `profile city <name>`.")
    else:
        mine = _("You take part; `intros off me` to opt out.")
    return lines(head, mine)


@router.command(
    "intros on",
    args=[Rest("how", optional=True, label="every <n> weeks|me")],
    summary="facilitators: introductions on a rhythm; anyone else (or `intros on me`): take "
    "part again",
    example="intros on every 2 weeks",
)
async def turn_on(ctx: Context, cmd: Command) -> Message:
    words = split_words(cmd.values.how or "")
    if words and words[0].lower() == ME:
        if len(words) > 1:
            raise UsageError(_("Just `intros on me`."))
        return await _opt(ctx, True)
    if words and words[0].lower() != "every":
        raise UsageError(EVERY_EXAMPLE)
    if not _is_facilitator(ctx):
        if words:
            raise _only_facilitators("intros on every")
        return await _opt(ctx, True)
    return await _rhythm(ctx, weeks(words[1:]) if words else service.DEFAULT_WEEKS)


@router.command(
    "intros every",
    args=[Rest("how", optional=True, label="<n> weeks")],
    summary="how often introductions are made",
    example="intros every 3 weeks",
    roles=FACILITATORS,
)
async def every(ctx: Context, cmd: Command) -> Message:
    return await _rhythm(ctx, weeks(split_words(cmd.values.how or "")))


@router.command(
    "intros off",
    args=[Rest("who", optional=True, label="me")],
    summary="facilitators: stop the rhythm; anyone else (or `intros off me`): opt out",
    example="intros off me",
)
async def turn_off(ctx: Context, cmd: Command) -> Message:
    words = split_words(cmd.values.who or "")
    if words and [w.lower() for w in words] != [ME]:
        raise UsageError(_("Just `intros off`, or `intros off me` for yourself."))
    if words or not _is_facilitator(ctx):
        return await _opt(ctx, False)
    await service.set_rhythm(ctx, ctx.sender.member_id, None)
    return _("Introductions between cities are off. Members' choices to take part are kept.")


@router.command(
    "intros now",
    extra=_("Just `intros now`."),
    summary="make a round of introductions now",
    roles=FACILITATORS,
)
async def now(ctx: Context, cmd: Command) -> Message:
    made = await service.run_round(ctx, ctx.now(), ctx.sender.member_id)
    if made is None:
        raise CommandError(_("A round is being made right now; try again in a minute."))
    groups = await service.groups_in(ctx, made.id)
    if not groups:
        return _("Nobody could be introduced this time: it takes two members of different "
                 "cities, not away, who have not met in the past year.")  # fmt: skip
    return n_("Made {n} introduction; each group gets a conversation (or a direct message).",
              "Made {n} introductions; each group gets a conversation (or a direct message).",
              groups)  # fmt: skip


@router.command(
    "met",
    args=[Choice("answer", ("yes", "no"), missing=MET_OR_NOT)],
    extra=MET_OR_NOT,
    summary='answer "did you meet?" after an introduction',
    example="met yes",
)
async def met(ctx: Context, cmd: Command) -> Message:
    return await service.answer(ctx, ctx.sender.member_id, cmd.values.answer == "yes")


async def _rhythm(ctx: Context, every_weeks: int) -> Message:
    row = await service.set_rhythm(ctx, ctx.sender.member_id, every_weeks)
    zone = ctx.settings.timezone
    when = Day(row.next_round_at.astimezone(ZoneInfo(zone)), "EEE dd MMM y HH:mm")
    return n_("Introductions between cities are on, every week; the next round is {when} "
              "({zone}).",
              "Introductions between cities are on, every {n} weeks; the next round is {when} "
              "({zone}).", every_weeks, when=when, zone=zone)  # fmt: skip


async def _opt(ctx: Context, taking_part: bool) -> Message:
    await service.opt(ctx, ctx.sender.member_id, taking_part)
    if taking_part:
        return _("You take part in introductions between cities.")
    return _("You are left out of introductions between cities; `intros on me` to take "
             "part again.")  # fmt: skip
