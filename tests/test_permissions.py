"""Every facilitator and coordinator command, run by a plain member (and each facilitator-only
one by a coordinator), on every platform: refused in one line, nothing sent anywhere else, the
database unchanged."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles
from bot.models import Activity, Base, HandledEvent

LOGGED = {Activity.__tablename__, HandledEvent.__tablename__}  # every event is recorded


async def snapshot(bot) -> dict[str, list[tuple]]:
    await bot.app.activity.flush()
    tables = [t for t in Base.metadata.sorted_tables if t.name not in LOGGED]
    async with bot.app.db.sessions() as session:
        return {t.name: sorted((await session.execute(select(t))).all(), key=repr) for t in tables}


def privileged(bot):
    return [spec for spec in bot.app.router.commands.values() if spec.roles]


async def try_all(bot, who: str, specs) -> None:
    before = await snapshot(bot)
    sent = len(bot.platform.sent)
    for spec in specs:
        await bot.say(who, f"!{spec.example or spec.name}")
        assert bot.last_reply_to(who) == f"Only {spec.who} can use `{spec.name}`.", spec.name
    assert all(s.private_to is not None for s in bot.platform.sent[sent:])
    assert not any(s.file for s in bot.platform.sent[sent:])
    assert await snapshot(bot) == before


async def test_plain_members_are_refused_everything_privileged(bot):
    for name in ("fac", "coord", "alice", "amina"):
        await bot.say(name, "hello")
    for spec in privileged(bot):  # give the commands something to act on
        await bot.say("fac", f"!{spec.example or spec.name}")
    specs = privileged(bot)
    assert {"role grant", "report", "audit", "prompt add"} <= {s.name for s in specs}
    await try_all(bot, "alice", specs)


async def test_coordinators_are_refused_facilitator_commands(bot):
    await bot.say("coord", "hello")
    await bot.say("alice", "hello")
    specs = [s for s in privileged(bot) if roles.COORDINATOR not in s.roles]
    assert specs
    await try_all(bot, "coord", specs)


async def test_a_refusal_comes_before_any_argument_is_read(bot):
    await bot.say("alice", "hello")
    before = await snapshot(bot)
    for spec in privileged(bot):
        await bot.say("alice", f"!{spec.name} ### not an argument of any kind")
        assert bot.last_reply_to("alice") == f"Only {spec.who} can use `{spec.name}`.", spec.name
    assert await snapshot(bot) == before
