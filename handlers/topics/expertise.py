"""What a member wants to learn, changed after the welcome: `expertise learn` and
`expertise unlearn`.

Unknown topics are treated as `expertise add` treats them: `learn` creates them; `unlearn`
only takes off topics on the member's list, matched as every topic command matches names.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from bot import expertise, topics
from bot.arguments import TopicNames
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _, lines
from bot.models import Expertise, Topic
from bot.router import Router

router = Router()

WHICH_TOPICS = _("Which topic? For example: budgeting, procurement")


@router.command(
    "expertise learn",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="say what you want to learn",
    example="expertise learn budgeting, audit",
)
async def learn(ctx: Context, cmd: Command) -> Message:
    return await expertise.declare_now(
        ctx, ctx.sender.member_id, cmd.values.topics, expertise.WANTS
    )


@router.command(
    "expertise unlearn",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="take topics off what you want to learn",
    example="expertise unlearn audit",
)
async def unlearn(ctx: Context, cmd: Command) -> Message:
    names = cmd.values.topics
    mine = (Expertise.member_id == ctx.sender.member_id, Expertise.kind == expertise.WANTS)
    async with ctx.db() as session:
        wanted = list(
            await session.scalars(
                select(Topic).join(Expertise, Expertise.topic_id == Topic.id).where(*mine)
            )
        )
        chosen: dict[int, str] = {}
        for name in names:
            topic = topics.match(wanted, name)
            if topic is None:
                listed = ", ".join(sorted((t.name for t in wanted), key=topics.key_of))
                raise CommandError(lines(
                    _("`{name}` is not on what you want to learn, so nothing was removed.",
                      name=name[:40]),
                    _("You want to learn: {topics}.", topics=listed) if listed
                    else _("You want to learn: nothing yet."),
                    sep=" ",
                ))  # fmt: skip
            chosen[topic.id] = topic.name
        await session.execute(delete(Expertise).where(*mine, Expertise.topic_id.in_(list(chosen))))
        await session.commit()
    return _("Removed from what you want to learn: {topics}.", topics=", ".join(chosen.values()))
