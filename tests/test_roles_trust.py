"""Roles that hold: the settings reconciled at every start, the last facilitator kept (also
under concurrent revokes from two replicas), roles only for members the bot has seen and never
for a bot, and every change in the audit log."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.models import AuditEntry, Identity, Member, Role
from bot.settings import Settings
from tests.harness import BotHarness, user_id


def settings_for(database_url: str, facilitators: str = "", coordinators: str = "") -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        facilitators=facilitators,
        coordinators=coordinators,
    )


async def started(database_url: str, clock, facilitators: str = "") -> BotHarness:
    return await BotHarness("slack", settings_for(database_url, facilitators), clock).start()


async def facilitator_names(bot: BotHarness) -> set[str]:
    async with bot.app.db.sessions() as session:
        rows = await session.scalars(
            select(Member.display_name)
            .join(Role, Role.member_id == Member.id)
            .where(Role.role == "facilitator")
        )
        return set(rows)


async def counts(bot: BotHarness) -> tuple[int, int, int]:
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Member, Identity, Role)
            ]
        )


async def test_a_facilitator_removed_from_the_settings_loses_the_role(database_url, clock):
    bot = await started(database_url, clock, facilitators=f"UFAC,{user_id('slack', 'dave')}")
    await bot.say("dave", "hello")
    await bot.close()
    bot = await started(database_url, clock, facilitators=f"UFAC,{user_id('slack', 'dave')}")
    assert "dave" in await facilitator_names(bot)  # stored at start
    await bot.say("fac", f"!role revoke {bot.mention('dave')} facilitator")
    assert "by configuration" in bot.last_reply_to("fac")
    await bot.close()

    bot = await started(database_url, clock, facilitators="UFAC")
    try:
        assert await facilitator_names(bot) == {"fac"}
        await bot.say("dave", "!roles")
        assert bot.last_reply_to("dave") == "Only facilitators can use `roles`."
        await bot.say("fac", "!audit")
        log = bot.last_reply_to("fac")
        assert "role revoke dave: facilitator (removed from the settings) (by the settings)" in log
        assert "role grant dave: facilitator (settings)" in log
    finally:
        await bot.close()


async def test_a_role_granted_by_command_survives_a_restart(database_url, clock):
    bot = await started(database_url, clock, facilitators="UFAC")
    await bot.say("amina", "hello")
    await bot.say("fac", f"!role grant {bot.mention('amina')} coordinator")
    await bot.close()
    bot = await started(database_url, clock, facilitators="UFAC")
    try:
        await bot.say("amina", "!stats")
        assert bot.last_reply_to("amina").startswith("Last 7 days")
    finally:
        await bot.close()


async def test_the_last_facilitator_cannot_be_revoked(database_url, clock):
    bot = await started(database_url, clock, facilitators="UALICE")
    try:
        await bot.say("alice", "hello")
        await bot.say("bob", "hello")
        await bot.close()
        bot = await started(database_url, clock)  # alice's role is now by command only
        async with bot.app.db.sessions() as session:
            await session.execute(Role.__table__.update().values(source="grant", granted_by=1))
            await session.commit()
        assert await facilitator_names(bot) == set()
    finally:
        await bot.close()

    bot = await started(database_url, clock)
    try:
        async with bot.app.db.sessions() as session:
            alice = await session.scalar(select(Member).where(Member.display_name == "alice"))
            session.add(Role(member_id=alice.id, role="facilitator", granted_at=clock()))
            await session.commit()
        await bot.say("alice", f"!role revoke {bot.mention('alice')} facilitator")
        assert bot.last_reply_to("alice") == (
            "alice is the last facilitator; grant another one first."
        )
        assert await facilitator_names(bot) == {"alice"}
        await bot.say("alice", f"!role grant {bot.mention('bob')} facilitator")
        await bot.say("bob", f"!role revoke {bot.mention('alice')} facilitator")
        assert bot.last_reply_to("bob") == "alice is no longer a facilitator."
        await bot.say("bob", f"!role revoke {bot.mention('bob')} facilitator")
        assert "last facilitator" in bot.last_reply_to("bob")
    finally:
        await bot.close()


async def test_concurrent_revokes_on_two_replicas_leave_a_facilitator(database_url, clock):
    """Two facilitators revoke each other at the same moment, each on its own replica."""
    one = await started(database_url, clock)
    two = await started(database_url, clock)
    try:
        await one.say("alice", "hello")
        await one.say("bob", "hello")
        await one.app.activity.flush()
        async with one.app.db.sessions() as session:
            ids = {
                name: i for name, i in await session.execute(select(Member.display_name, Member.id))
            }
        for _trial in range(30):
            async with one.app.db.sessions() as session:
                await session.execute(Role.__table__.delete())
                for name in ("alice", "bob"):
                    session.add(Role(member_id=ids[name], role="facilitator", granted_at=clock()))
                await session.commit()
            await asyncio.gather(
                one.say("alice", f"!role revoke {one.mention('bob')} facilitator"),
                two.say("bob", f"!role revoke {two.mention('alice')} facilitator"),
            )
            left = await facilitator_names(one)
            assert len(left) == 1, left
            answers = [one.last_reply_to("alice"), two.last_reply_to("bob")]
            done = [a for a in answers if a.endswith("is no longer a facilitator.")]
            refused = [a for a in answers if "last facilitator" in a or "Only facilitators" in a]
            assert len(done) == 1 and len(refused) == 1, answers  # whichever came second
    finally:
        await one.close()
        await two.close()


async def test_roles_only_for_members_seen_and_never_for_a_bot(bot):
    await bot.say("fac", "hello")
    before = await counts(bot)
    await bot.say("fac", f"!role grant {bot.mention('ghost')} facilitator")
    assert bot.last_reply_to("fac").startswith("I don't know anyone called")
    await bot.say("fac", f"!profile {bot.mention('nobody')}")
    assert bot.last_reply_to("fac").startswith("I don't know anyone called")
    await bot.say("fac", f"!role grant {bot.mention('convener')} coordinator")
    assert bot.last_reply_to("fac").startswith("I don't know anyone called")
    assert await counts(bot) == before

    # a bot account the bot has seen (say, from before this check existed) is still refused
    me = bot.platform.bot_user
    async with bot.app.db.sessions() as session:
        member = Member(display_name="convener", created_at=bot.clock())
        session.add(member)
        await session.flush()
        session.add(Identity(member_id=member.id, platform=me.platform, user_id=me.id))
        await session.commit()
    await bot.say("fac", f"!role grant {bot.mention('convener')} coordinator")
    assert bot.last_reply_to("fac") == "Bots cannot hold roles."
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Role)) == 0


async def test_audit_lists_role_changes_and_report_pulls(bot):
    await bot.say("amina", "hello")
    await bot.say("fac", f"!role grant {bot.mention('amina')} coordinator")
    await bot.say("fac", f"!role revoke {bot.mention('amina')} coordinator")
    await bot.say("coord", "!report")
    await bot.say("fac", "!audit")
    log = bot.last_reply_to("fac")
    lines = log.splitlines()
    assert lines[0] == "Audit log, last 30 days, newest first:"
    assert "report: " in lines[1] and lines[1].endswith("(by coord)")
    assert lines[2].endswith("role revoke amina: coordinator (by fac)")
    assert lines[3].endswith("role grant amina: coordinator (by fac)")
    await bot.say("fac", "!audit soon")
    assert bot.last_reply_to("fac").startswith("Give a number of days")
    await bot.say("fac", "!audit 0")
    assert bot.last_reply_to("fac").startswith("Choose between 1 and 3650 days")
    await bot.say("coord", "!audit")
    assert bot.last_reply_to("coord") == "Only facilitators can use `audit`."
    clock_then = bot.clock.advance(days=31)
    assert clock_then
    await bot.say("fac", "!audit")
    assert bot.last_reply_to("fac") == "Nothing in the audit log for the last 30 days."
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 3


@pytest.mark.parametrize("role", ["facilitator", "coordinator"])
async def test_granting_records_who_did_it(bot, role):
    await bot.say("amina", "hello")
    await bot.say("fac", f"!role grant {bot.mention('amina')} {role}")
    async with bot.app.db.sessions() as session:
        entry = await session.scalar(select(AuditEntry))
        actor = await session.get(Member, entry.actor_id)
        subject = await session.get(Member, entry.subject_id)
    assert (entry.action, entry.detail, actor.display_name, subject.display_name) == (
        "role grant",
        role,
        "fac",
        "amina",
    )
