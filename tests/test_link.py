"""link, link <code>, link confirm / cancel, and unlink: once per platform, with a second
platform in the same bot."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from bot import audit
from bot.models import Activity, AuditEntry, Expertise, Identity, LinkCode, Member, Role
from bot.types import ChannelRef, MemberJoined, Message, UserRef
from tests.harness import PLATFORMS, FakePlatform, direct, mention, user_id


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

    def user(self, name: str) -> UserRef:
        return UserRef(self.name, user_id(self.name, name), name)

    def mention(self, name: str) -> str:
        return mention(self.name, name)

    async def dm(self, name: str, text: str) -> None:
        user = self.user(name)
        await self.bot.app.handle(
            Message(f"other-{uuid.uuid4().hex}", user, direct(user), self.bot.clock(), text, "m1")
        )

    async def join(self, name: str, channel: str = "#general") -> None:
        room = ChannelRef(self.name, f"other-{channel}", channel)
        event = MemberJoined(f"other-{uuid.uuid4().hex}", self.user(name), room, self.bot.clock())
        await self.bot.app.handle(event)

    def replies_to(self, name: str) -> list[str]:
        user = UserRef(self.name, user_id(self.name, name))
        return [s.text for s in self.platform.sent if s.private_to == user]

    def last_reply_to(self, name: str) -> str:
        return self.replies_to(name)[-1]


async def link(bot, other: OtherPlatform, name: str) -> None:
    """`name` links their account on the bot's platform with the one on the other."""
    await bot.say(name, "!link")
    await other.dm(name, f"!link {code_in(bot.last_reply_to(name))}")
    await other.dm(name, "!link confirm")
    assert other.last_reply_to(name).startswith("Linked:"), other.last_reply_to(name)


async def member_count(bot) -> int:
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Member))


async def snapshot(bot) -> dict:
    """What linking and unlinking may change: compare before and after a refusal."""
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:

        async def rows(*columns) -> list:
            return sorted(tuple(r) for r in await session.execute(select(*columns).distinct()))

        return {
            "members": await rows(Member.id, Member.display_name, Member.city),
            "identities": await rows(Identity.platform, Identity.user_id, Identity.member_id),
            "roles": await rows(Role.member_id, Role.role),
            "expertise": await rows(Expertise.member_id, Expertise.topic_id),
            "activity": await rows(Activity.platform, Activity.member_id),
            "codes": await rows(LinkCode.code, LinkCode.used_at, LinkCode.claimed_by),
            "audit": await rows(AuditEntry.id),
        }


async def audit_rows(bot, action: str) -> list[AuditEntry]:
    async with bot.app.db.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


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
    here = {"console": "alice", "slack": "alice (UALICE)", "matrix": "alice (@alice:example.org)"}
    assert other.last_reply_to("alice") == (
        f"This will join your {other.name} account {here[other.name]} with the "
        f"{bot.platform_name} account {here[bot.platform_name]} into one member, with one "
        "profile and their activity combined. Type `link confirm` within 15 minutes to do "
        "it, or `link cancel`."
    )
    assert await member_count(bot) == 2  # nothing is joined before confirming
    await other.dm("alice", "!link confirm")
    names = ", ".join(sorted([bot.platform_name, other.name]))
    assert other.last_reply_to("alice").startswith(
        f"Linked: your accounts ({names}) are now one member, alice."
    )

    assert await member_count(bot) == 1
    async with bot.app.db.sessions() as session:
        owners = set(await session.scalars(select(Activity.member_id)))
        identities = set(await session.scalars(select(Identity.member_id)))
        used = await session.scalar(select(LinkCode.used_at))
    assert len(owners) == 1 and owners == identities  # reports count alice once
    assert used == bot.clock()
    (entry,) = await audit_rows(bot, audit.LINK)
    assert entry.actor_id == entry.subject_id == owners.pop()
    assert entry.detail == (
        f"{bot.platform_name} account {here[bot.platform_name]} + "
        f"{other.name} account {here[other.name]}"
    )

    await other.dm("alice", "!profile")
    profile = other.last_reply_to("alice")
    assert "City: Nairobi" in profile and "Timezone: Africa/Nairobi" in profile
    assert "Can help with: audit, budgeting" in profile
    assert f"Accounts: {names}" in profile


async def test_link_two_members_who_both_have_the_same_rows(bot):
    other = OtherPlatform(bot)
    await bot.join("alice")
    await bot.dm("alice", "Kisumu")
    await other.join("alice")
    await bot.say("fac", f"!role grant {bot.mention('alice')} coordinator")
    await other.dm("fac", f"!role grant {other.mention('alice')} coordinator")
    await link(bot, other, "alice")
    await bot.say("fac", "!roles")
    assert "Coordinators: alice\n" in bot.last_reply_to("fac") + "\n"
    await other.dm("alice", "County of Kisumu, treasurer")  # alice's conversation goes on
    assert other.last_reply_to("alice").startswith(
        "Noted: treasurer at County of Kisumu.\nQuestion 3 of 4"
    )
    await other.join("alice", channel="#random")  # welcomed once is welcomed for both
    assert sum(r.startswith("Welcome to") for r in other.replies_to("alice")) == 1
    assert await member_count(bot) == 3  # alice, and fac on each platform


async def test_code_used_twice_or_expired(bot):
    other = OtherPlatform(bot)
    await link(bot, other, "alice")
    code = code_in(next(r for r in bot.replies_to("alice") if "Your link code is" in r))
    await other.dm("bob", f"!link {code}")
    assert other.last_reply_to("bob").startswith("That code was already used.")

    await bot.say("carol", "!link")  # claimed once: nobody else can claim it
    code = code_in(bot.last_reply_to("carol"))
    await other.dm("carol", f"!link {code}")
    await other.dm("carol", f"!link {code}")  # the same claim, shown again
    assert other.last_reply_to("carol").startswith("This will join your")
    await other.dm("bob", f"!link {code}")
    assert other.last_reply_to("bob").startswith("That code was already used.")

    await bot.say("dave", "!link")
    code = code_in(bot.last_reply_to("dave"))
    bot.clock.advance(minutes=15, seconds=1)
    await other.dm("dave", "!help")
    before = await snapshot(bot)
    await other.dm("dave", f"!link {code}")
    assert other.last_reply_to("dave") == (
        "That code has expired (codes last 15 minutes). "
        "Type `link` on your other account for a new code."
    )
    await other.dm("carol", "!link confirm")  # carol's claim has expired too
    assert other.last_reply_to("carol") == (
        "That link waited more than 15 minutes and has expired. "
        "Type `link` on your other account for a new code."
    )
    assert await snapshot(bot) == before
    assert await member_count(bot) == 6  # alice (linked), bob, carol and dave twice


async def test_a_code_tried_on_its_own_account_dies(bot):
    """Before: the refused code stayed good, and anyone who saw it could take it."""
    other = OtherPlatform(bot)
    await bot.say("fac", "!link")
    code = code_in(bot.last_reply_to("fac"))
    await bot.say("fac", f"!link {code}")
    assert bot.last_reply_to("fac") == (
        "That code is from this same account, so it no longer works. Type `link` for a new "
        "code and use it on your account on another platform."
    )
    await other.dm("dana", "!help")
    before = await snapshot(bot)
    await other.dm("dana", f"!link {code}")
    assert other.last_reply_to("dana").startswith("That code was already used.")
    await other.dm("dana", "!link confirm")
    assert other.last_reply_to("dana").startswith("You have no link waiting.")
    await other.dm("dana", "!roles")
    assert other.last_reply_to("dana") == "Only facilitators can use `roles`."
    assert await snapshot(bot) == before


async def test_linked_accounts_and_their_own_code(bot):
    other = OtherPlatform(bot)
    await link(bot, other, "alice")
    await other.dm("alice", "!link")
    code = code_in(other.last_reply_to("alice"))
    await bot.say("alice", f"!link {code}")
    assert bot.last_reply_to("alice") == "These accounts are already linked."
    await bot.say("bob", f"!link {code}")
    assert bot.last_reply_to("bob").startswith("That code was already used.")


async def test_accounts_on_one_platform_are_not_linked(bot):
    """Before: dana typed the facilitator's code on the same platform and became them."""
    other = OtherPlatform(bot)
    await bot.say("fac", "!link")
    code = code_in(bot.last_reply_to("fac"))
    await bot.say("dana", "!help")
    before = await snapshot(bot)
    await bot.say("dana", f"!link {code}")
    assert bot.last_reply_to("dana") == (
        "Only accounts on different platforms can be linked, and both are on "
        f"{bot.platform_name}. That code no longer works."
    )
    after = await snapshot(bot)
    assert after["codes"] != before["codes"]  # used up, and nothing else changed
    assert {**after, "codes": before["codes"]} == before
    await bot.say("dana", "!roles")
    assert bot.last_reply_to("dana") == "Only facilitators can use `roles`."
    await other.dm("fac", f"!link {code}")  # the code is dead even for its owner
    assert other.last_reply_to("fac").startswith("That code was already used.")


async def test_a_member_with_an_account_on_the_codes_platform_is_not_linked(bot):
    other = OtherPlatform(bot)
    await link(bot, other, "alice")
    await other.dm("bob", "!link")
    await bot.say("alice", f"!link {code_in(other.last_reply_to('bob'))}")
    assert bot.last_reply_to("alice") == (
        "Only accounts on different platforms can be linked, and both are on "
        f"{other.name}. That code no longer works."
    )
    assert await member_count(bot) == 2


async def test_confirm_or_cancel_with_nothing_pending_and_cancel(bot):
    other = OtherPlatform(bot)
    await bot.say("alice", "!link")
    code = code_in(bot.last_reply_to("alice"))
    await other.dm("alice", "!help")
    before = await snapshot(bot)
    for word in ("confirm", "cancel"):
        await other.dm("alice", f"!link {word}")
        assert other.last_reply_to("alice") == (
            "You have no link waiting. Type `link <code>` with a code from your other account."
        )
    assert await snapshot(bot) == before

    await other.dm("alice", f"!link {code}")
    await other.dm("alice", "!link cancel")
    assert other.last_reply_to("alice") == (
        "Cancelled: nothing was linked, and that code no longer works."
    )
    await other.dm("alice", "!link confirm")
    assert other.last_reply_to("alice").startswith("You have no link waiting.")
    await other.dm("alice", f"!link {code}")
    assert other.last_reply_to("alice").startswith("That code was already used.")
    assert await member_count(bot) == 2
    assert await audit_rows(bot, audit.LINK) == []


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


async def test_unlink_splits_one_platform_off(bot):
    other = OtherPlatform(bot)
    await bot.say("alice", "!profile city Nairobi")
    await bot.say("alice", "!expertise add budgeting")
    await other.dm("alice", "!expertise add audit")
    await bot.say("fac", f"!role grant {bot.mention('alice')} coordinator")
    await link(bot, other, "alice")

    await bot.say("fac", f"!unlink {bot.mention('alice')} {other.name.upper()}")
    assert bot.last_reply_to("fac") == (
        f"Unlinked: alice's {other.name} account is now a member of its own, alice. "
        "Roles, profile and expertise stay with alice."
    )
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        by_platform = set(await session.execute(select(Activity.platform, Activity.member_id)))
    fac, kept, split = [
        await _member_of(bot, user)
        for user in (bot.user("fac"), bot.user("alice"), other.user("alice"))
    ]
    assert kept != split
    assert by_platform == {(bot.platform_name, kept), (bot.platform_name, fac), (other.name, split)}
    (entry,) = await audit_rows(bot, audit.UNLINK)
    assert (entry.actor_id, entry.subject_id) == (fac, kept)
    assert entry.detail.startswith(f"{other.name} account ")

    await other.dm("alice", "!profile")
    split = other.last_reply_to("alice")
    assert "Nairobi" not in split and "budgeting" not in split and "audit" not in split
    await bot.say("alice", "!profile")
    kept = bot.last_reply_to("alice")
    assert "City: Nairobi" in kept and "Can help with: audit, budgeting" in kept
    assert f"Accounts: {bot.platform_name}" in kept
    await bot.say("fac", "!roles")
    assert "Coordinators: alice\n" in bot.last_reply_to("fac") + "\n"
    assert await member_count(bot) == 3


async def _member_of(bot, user: UserRef) -> int:
    async with bot.app.db.sessions() as session:
        return await session.scalar(
            select(Identity.member_id).where(
                Identity.platform == user.platform, Identity.user_id == user.id
            )
        )


async def test_unlink_refusals(bot):
    other = OtherPlatform(bot)
    await link(bot, other, "alice")
    await bot.say("bob", "!help")
    await bot.say("fac", "!help")
    alice, bob, zed = bot.mention("alice"), bot.mention("bob"), bot.mention("zed")
    usage = "\nUsage: `unlink @user <platform>`"
    names = " or ".join(sorted([bot.platform_name, other.name]))
    refusals = [
        ("bob", f"!unlink {alice} {other.name}", "Only facilitators can use `unlink`."),
        ("fac", f"!unlink {alice}", "Name one member and one platform." + usage),
        ("fac", f"!unlink {alice} telegram", f"`telegram` is not a platform here; use {names}."
         + usage),
        ("fac", f"!unlink {zed} {other.name}", f"I don't know anyone called {zed}."),
        ("fac", f"!unlink {bob} {other.name}", f"bob has no {other.name} account."),
        ("fac", f"!unlink {bob} {bot.platform_name}",
         "That is bob's only account, so there is nothing to unlink."),
    ]  # fmt: skip
    before = await snapshot(bot)
    for name, text, answer in refusals:
        await bot.say(name, text)
        assert bot.last_reply_to(name) == answer
    assert await snapshot(bot) == before


async def test_the_codes_owner_is_told_of_a_claim_and_can_cancel_it(bot):
    """Someone who saw the code and has an account on the other platform claims it: the
    code's own account hears of it at once and cancels before the claim is confirmed."""
    other = OtherPlatform(bot)
    await bot.say("fac", "!link")
    code = code_in(bot.last_reply_to("fac"))
    await other.dm("mallory", f"!link {code}")
    assert "Type `link confirm`" in other.last_reply_to("mallory")
    warning = bot.last_reply_to("fac")
    assert warning.startswith(f"Your link code was just used by the {other.name} account mallory")
    assert "type `link cancel` here now" in warning
    await bot.say("fac", "!link cancel")
    assert bot.last_reply_to("fac").startswith("Cancelled: nothing was linked")
    await other.dm("mallory", "!link confirm")
    assert other.last_reply_to("mallory").startswith("You have no link waiting.")
    assert await member_count(bot) == 2
    assert await audit_rows(bot, audit.LINK) == []


def test_every_column_holding_a_member_moves_in_a_merge():
    """A column added later that holds a member's id must be listed for merges."""
    from bot.models import Base
    from handlers.link.service import _member_columns

    covered = {(c.table.name, c.name) for c in _member_columns()}
    holding = {
        (t.name, c.name)
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if c.name.endswith(("member_id", "_by", "asker_id", "responder_id", "actor_id"))
        or c.name == "subject_id"
    }
    assert holding - covered == set()
