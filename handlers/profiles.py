"""Profiles and expertise: `profile`, `profile city|org|role|timezone|language`, `expertise`,
`expertise add|remove`, `experts`.

Expertise rows are `offers` (can help with) or `wants` (wants to learn). `expertise add`
declares offers; the welcome conversation fills both. `expertise remove` takes a topic off a
profile altogether (offers and wants), so a member can tidy either with one command.

`profile language <code>` sets the language Convener speaks with the member
(`bot.languages.chosen`, as the onboarding conversation and `channel language` read one).

The profile form (`form profile`; a modal on Slack) sets every field at once, prefilled; a
topic taken off one of its lists is taken off the profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import expertise, forms, i18n, languages, members, timezones, topics
from bot.arguments import Rest, TopicName, TopicNames, Zone
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.forms import Field, Form, Plan, Run
from bot.i18n import N_, Message, Text, _, lines, n_
from bot.languages import Languages
from bot.models import Expertise, Identity, Member, Topic
from bot.router import Router
from bot.types import FieldKind

router = Router()

CLEAR = members.CLEAR
MAX_EXPERTS_SHOWN = 10
WHICH_TOPICS = _("Which topic? For example: budgeting, procurement")
EXPERTISE_COMMANDS = _(
    "Use `expertise add|remove <topic>` (what you can help with) or "
    "`expertise learn|unlearn <topic>` (what you want to learn)."
)
NOTHING_LISTED = _("nothing listed yet")
NOT_SET = _("not set")


@dataclass(frozen=True)
class _ZoneOrClear(Zone):
    """A time zone, or `-` to clear it (None)."""

    def parse(self, word: str) -> str | None:
        return None if word == CLEAR else super().parse(word)


def _language_line(member: Member, known: Languages) -> Message:
    name = i18n.name_of(known.of_member(member))
    if member.language and i18n.code(member.language):
        return _("Language: {language}", language=name)
    return _("Language: {language} (the community's)", language=name)


async def render_profile(
    session: AsyncSession, member: Member, own: bool, known: Languages
) -> Message:
    offers_wants = await expertise.expertise_of(session, member.id)
    accounts = None
    if own:
        platforms = sorted(
            set(
                await session.scalars(
                    select(Identity.platform).where(Identity.member_id == member.id)
                )
            )
        )
        accounts = lines(
            _("Accounts: {platforms}", platforms=", ".join(platforms)),
            _("Change it with `profile city|org|role|timezone|language <value>` and "
              "`expertise add <topic>`."),
        )  # fmt: skip
    return lines(
        _("**{name}**", name=member.display_name),
        _("City: {city}", city=member.city or NOT_SET),
        _("Organisation: {org}", org=member.org or NOT_SET),
        _("Role: {role}", role=member.role_title or NOT_SET),
        _("Timezone: {zone}", zone=member.timezone or NOT_SET),
        _language_line(member, known),
        _("Can help with: {topics}",
          topics=", ".join(offers_wants[expertise.OFFERS]) or NOTHING_LISTED),
        _("Wants to learn: {topics}",
          topics=", ".join(offers_wants[expertise.WANTS]) or NOTHING_LISTED),
        _("Away at the moment.") if member.is_away else None,
        accounts,
    )  # fmt: skip


@router.command(
    "profile",
    args=[Rest("member", default="", label="@user")],
    summary="show your profile or someone else's",
    example="profile @amina",
)
async def show_profile(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        me = await ctx.sender.load(session)
        if not cmd.values.member:
            member = me
        else:
            try:
                member = await members.from_mention(session, ctx.platform, cmd.values.member)
            except CommandError as exc:
                raise UsageError(lines(
                    exc.message,
                    _("To change your own profile: `profile city|org|role|timezone <value>`."),
                    sep=" ",
                )) from exc  # fmt: skip
        text = await render_profile(session, member, own=member.id == me.id, known=ctx.languages)
        await session.commit()
    return text


def _text_field_command(
    field: str, placeholder: str, example: str, summary: str, saved: str, cleared: Message
) -> None:
    """`profile <field> <value>`; `saved` is a message (`N_`) with `{value}`."""

    async def set_field(ctx: Context, cmd: Command) -> Message:
        async with ctx.db() as session:
            member = await ctx.sender.load(session)
            value = members.set_text_field(member, field, cmd.values.value)
            await session.commit()
        return Text(saved, {"value": value}) if value else cleared

    router.command(
        f"profile {field}",
        args=[Rest("value", label=f"<{placeholder}>", missing=members.TEXT_FIELDS[field].ask)],
        summary=summary,
        example=f"profile {field} {example}",
    )(set_field)


_text_field_command(
    "city", "city", "Nairobi", "set your city (`-` clears it)",
    N_("Saved: your city is {value}."), _("Cleared your city."),
)  # fmt: skip
_text_field_command(
    "org", "organisation", "City of Nairobi", "set your organisation (`-` clears it)",
    N_("Saved: your organisation is {value}."), _("Cleared your organisation."),
)  # fmt: skip
_text_field_command(
    "role", "role", "Budget officer", "set your role (`-` clears it)",
    N_("Saved: your role is {value}."), _("Cleared your role."),
)  # fmt: skip


@router.command(
    "profile timezone",
    args=[
        _ZoneOrClear(
            label="<Area/City>", missing=lines(_("Which timezone?"), timezones.EXAMPLE, sep=" ")
        )
    ],
    extra=lines(_("Give one timezone."), timezones.EXAMPLE, sep=" "),
    summary="set your timezone (`-` clears it)",
    example="profile timezone Africa/Nairobi",
)
async def set_timezone(ctx: Context, cmd: Command) -> Message:
    value = cmd.values.zone
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        member.timezone = value
        await session.commit()
    if value:
        return _("Saved: your timezone is {value}.", value=value)
    return _("Cleared your timezone.")


@router.command(
    "profile language",
    args=[Rest("code", optional=True, label="<code>")],
    summary="set the language I speak with you",
    example="profile language fr",
)
async def set_language(ctx: Context, cmd: Command) -> Message:
    return await languages.speak(ctx, languages.chosen(cmd.values.code))


@router.command(
    "expertise", extra=EXPERTISE_COMMANDS, summary="what you can help with and want to learn"
)
async def list_expertise(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        known = await expertise.expertise_of(session, ctx.sender.member_id)
    if not known[expertise.OFFERS] and not known[expertise.WANTS]:
        return _("You have not listed any topics yet. Add some: `expertise add budgeting, audit`.")
    return lines(
        _("You can help with: {topics}",
          topics=", ".join(known[expertise.OFFERS]) or NOTHING_LISTED),
        _("You want to learn: {topics}", topics=", ".join(known[expertise.WANTS]))
        if known[expertise.WANTS] else None,
    )  # fmt: skip


@router.command(
    "expertise add",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="say what you can help with",
    example="expertise add budgeting, procurement",
)
async def add_offers(ctx: Context, cmd: Command) -> Message:
    return await expertise.declare_now(
        ctx, ctx.sender.member_id, cmd.values.topics, expertise.OFFERS
    )


@router.command(
    "expertise remove",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="take topics off your profile",
    example="expertise remove procurement",
)
async def remove_expertise(ctx: Context, cmd: Command) -> Message:
    names = cmd.values.topics
    async with ctx.db() as session:
        mine = {
            topic.id: topic
            for topic in await session.scalars(
                select(Topic)
                .join(Expertise, Expertise.topic_id == Topic.id)
                .where(Expertise.member_id == ctx.sender.member_id)
            )
        }
        removed = []
        for name in names:
            topic = await topics.find(session, name)
            if topic is None or topic.id not in mine:
                listed = ", ".join(sorted(t.name for t in mine.values())) or _("nothing yet")
                raise CommandError(_(
                    "`{name}` is not on your profile, so nothing was removed. "
                    "Your topics: {topics}.", name=name[:40], topics=listed,
                ))  # fmt: skip
            removed.append(topic)
        await session.execute(
            delete(Expertise).where(
                Expertise.member_id == ctx.sender.member_id,
                Expertise.topic_id.in_([t.id for t in removed]),
            )
        )
        await session.commit()
    return _("Removed from your profile: {topics}.", topics=", ".join(t.name for t in removed))


def _expert(member: Member) -> Message:
    where = ", ".join(p for p in (member.city, member.org) if p)
    name = member.display_name
    if where and member.is_away:
        return _("• {name} ({where}) (away)", name=name, where=where)
    if where:
        return _("• {name} ({where})", name=name, where=where)
    if member.is_away:
        return _("• {name} (away)", name=name)
    return _("• {name}", name=name)


@router.command(
    "experts",
    args=[TopicName(missing=_("Which topic? For example: experts budgeting"))],
    summary="who can help with a topic",
    example="experts budgeting",
)
async def experts(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        topic = await topics.known(session, cmd.values.topic)
        helpers = (
            await session.scalars(
                select(Member)
                .join(Expertise, Expertise.member_id == Member.id)
                .where(
                    Expertise.topic_id == topic.id,
                    Expertise.kind == expertise.OFFERS,
                    Member.is_bot.is_(False),
                )
                .order_by(Member.is_away, Member.display_name)
            )
        ).all()
    if not helpers:
        return _("Nobody has said they can help with {topic} yet.", topic=topic.name)
    more = len(helpers) - MAX_EXPERTS_SHOWN
    return lines(
        _("Who can help with {topic}:", topic=topic.name),
        *(_expert(m) for m in helpers[:MAX_EXPERTS_SHOWN]),
        n_("… and {n} more.", "… and {n} more.", more) if more > 0 else None,
    )


# The profile form: the fields above, prefilled; a topic taken off a list is taken off the
# profile (`expertise remove`, which takes it off both lists, or `expertise unlearn`).


def _topic_runs(plan: Plan) -> list[Run]:
    """The expertise commands that turn the lists the member had into those they sent."""
    offered = {topics.key_of(n): n for n in plan.before.get("offers") or ()}
    wanted = {topics.key_of(n): n for n in plan.before.get("wants") or ()}
    offers = {topics.key_of(n): n for n in plan.parsed.get("offers") or ()}
    wants = {topics.key_of(n): n for n in plan.parsed.get("wants") or ()}
    dropped = {k: n for k, n in offered.items() if k not in offers}  # off both lists
    changes = (
        ("expertise remove", list(dropped.values())),
        ("expertise unlearn", [n for k, n in wanted.items() if k not in wants | dropped]),
        ("expertise add", [n for k, n in offers.items() if k not in offered]),
        ("expertise learn", [n for k, n in wants.items() if k not in wanted or k in dropped]),
    )
    return [Run(command, {"topics": names}) for command, names in changes if names]


def _plan(plan: Plan) -> list[Run]:
    return [*plan.default(leave=("offers", "wants")), *_topic_runs(plan)]


def _text_field(name: str, field: str, label: Message, hint: Message) -> Field:
    return Field(name=name, kind=FieldKind.SHORT, label=label, hint=hint,
                 command=f"profile {field}", to="value", optional=True, clear=CLEAR,
                 limit=members.TEXT_FIELDS[field].limit)  # fmt: skip


def _topics_field(name: str, command: str, label: Message) -> Field:
    return Field(name=name, kind=FieldKind.MULTI_NEW, label=label, command=command,
                 to="topics", optional=True, options=forms.topic_choices)  # fmt: skip


router.form(Form(
    name="profile",
    title=_("Your profile"),
    fields=(
        _text_field("city", "city", _("City"), _("Where you work, for example Nairobi.")),
        _text_field("org", "org", _("Organisation"), _("For example: City of Nairobi.")),
        _text_field("role", "role", _("Role"), _("For example: Budget officer.")),
        Field(name="timezone", kind=FieldKind.ZONE, label=_("Time zone"),
              command="profile timezone", to="zone", optional=True, clear=CLEAR),
        Field(name="language", kind=FieldKind.LANGUAGE, label=_("Language"),
              command="profile language", to="code", optional=True,
              hint=_("The language I use with you.")),
        _topics_field("offers", "expertise add", _("Topics you can help with")),
        _topics_field("wants", "expertise learn", _("Topics you want to learn")),
    ),
    prefill=forms.profile,
    plan=_plan,
    also=("expertise remove", "expertise unlearn"),
))  # fmt: skip
