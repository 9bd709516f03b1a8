"""link and link <code>: once per platform, plus a second platform in the same bot."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from bot.models import Activity, Identity, Member
from bot.types import Message, UserRef
from tests.harness import PLATFORMS, FakePlatform, direct, user_id


def code_in(text: str) -> str:
    match = re.search(r"Your link code is ([A-Z0-9]{4}-[A-Z0-9]{4})\.", text)
    assert match, text
    return match.group(1)


class OtherPlatform:
    """A second fake platform in the same running bot (Slack beside Matrix, say)."""

    def __init__(self, bot) -> None:
        self.bot = bot
        self.name = next(p for p in PLATFORMS if p != bot.platform_name)
        self.platform = FakePlatform(self.name)
        bot.app.add_platform(self.platform)

    async def dm(self, name: str, text: str) -> None:
        user = UserRef(self.name, user_id(self.name, name), name)
        await self.bot.app.handle(
            Message(f"other-{uuid.uuid4().hex}", user, direct(user), self.bot.clock(), text, "m1")
        )

    def last_reply_to(self, name: str) -> str:
        user = UserRef(self.name, user_id(self.name, name))
        return [s.text for s in self.platform.sent if s.private_to == user][-1]


async def member_count(bot) -> int:
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Member))


async def test_link_accounts_across_platforms(bot):
    other = OtherPlatform(bot)
    await bot.say("alice", "!profile city Nairobi")
    await bot.say("alice", "!expertise add budgeting")
    await other.dm("alice", "!expertise add budgeting, audit")
    await other.dm("alice", "!profile timezone Africa/Nairobi")
    assert await member_count(bot) == 2

    await bot.say("alice", "!link")
    code = code_in(bot.last_reply_to("alice"))
    assert "within 15 minutes" in bot.last_reply_to("alice")
    await other.dm("alice", f"!link {code.lower()}")
    names = ", ".join(sorted([bot.platform_name, other.name]))
    assert other.last_reply_to("alice").startswith(
        f"Linked: your accounts ({names}) are now one member, alice."
    )

    assert await member_count(bot) == 1
    async with bot.app.db.sessions() as session:
        owners = set(await session.scalars(select(Activity.member_id)))
        identities = set(await session.scalars(select(Identity.member_id)))
    assert len(owners) == 1 and owners == identities  # reports count alice once

    await other.dm("alice", "!profile")
    profile = other.last_reply_to("alice")
    assert "City: Nairobi" in profile and "Timezone: Africa/Nairobi" in profile
    assert "Can help with: audit, budgeting" in profile
    assert f"Accounts: {names}" in profile


async def test_link_two_accounts_on_one_platform_where_both_have_the_same_rows(bot):
    await bot.join("alice")
    await bot.dm("alice", "Kisumu")
    await bot.join("alice2")
    for name in ("alice", "alice2"):
        await bot.say("fac", f"!role grant {bot.mention(name)} coordinator")
    await bot.say("alice", "!link")
    await bot.say("alice2", f"!link {code_in(bot.last_reply_to('alice'))}")
    assert bot.last_reply_to("alice2").startswith("Linked:")
    await bot.say("fac", "!roles")
    assert "Coordinators: alice\n" in bot.last_reply_to("fac") + "\n"
    await bot.dm("alice2", "County of Kisumu, treasurer")  # alice's conversation goes on
    assert bot.last_reply_to("alice2").startswith(
        "Noted: treasurer at County of Kisumu.\nQuestion 3 of 4"
    )
    await bot.join("alice2", channel="random")  # welcomed once is welcomed for both
    assert sum(r.startswith("Welcome to") for r in bot.replies_to("alice2")) == 1
    assert await member_count(bot) == 2  # alice and fac


async def test_code_used_twice_or_expired(bot):
    other = OtherPlatform(bot)
    await bot.say("alice", "!link")
    code = code_in(bot.last_reply_to("alice"))
    await other.dm("alice", f"!link {code}")
    await other.dm("bob", f"!link {code}")
    assert other.last_reply_to("bob").startswith("That code was already used.")

    await bot.say("carol", "!link")
    code = code_in(bot.last_reply_to("carol"))
    bot.clock.advance(minutes=15, seconds=1)
    await other.dm("carol", f"!link {code}")
    assert other.last_reply_to("carol") == (
        "That code has expired (codes last 15 minutes). "
        "Type `link` on your other account for a new code."
    )
    assert await member_count(bot) == 4  # alice (linked), bob, and carol twice


async def test_linking_an_account_to_itself(bot):
    await bot.say("alice", "!link")
    code = code_in(bot.last_reply_to("alice"))
    await bot.say("alice", f"!link {code}")
    assert bot.last_reply_to("alice").startswith(
        "That code is from this same account; linking an account to itself does nothing."
    )
    other = OtherPlatform(bot)
    await other.dm("alice", f"!link {code}")  # the code is still good for the other account
    assert other.last_reply_to("alice").startswith("Linked:")
    await other.dm("alice", "!link")
    await bot.say("alice", f"!link {code_in(other.last_reply_to('alice'))}")
    assert bot.last_reply_to("alice") == "These accounts are already linked."


async def test_bad_codes(bot):
    await bot.say("alice", "!link hello")
    assert bot.last_reply_to("alice") == (
        "That does not look like a link code (8 letters and digits, ABCD-2345).\n"
        "Usage: `link [<code>]`"
    )
    await bot.say("alice", "!link ABCD-2345")
    assert bot.last_reply_to("alice").startswith("I don't know that code.")
    await bot.say("bob", "!link")
    first = code_in(bot.last_reply_to("bob"))
    await bot.say("bob", "!link")  # a new code replaces the old one
    second = code_in(bot.last_reply_to("bob"))
    assert first != second
    await bot.say("alice", f"!link {first}")
    assert bot.last_reply_to("alice").startswith("I don't know that code.")
    assert await member_count(bot) == 2
