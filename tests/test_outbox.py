"""The outbox (`bot.outbox`): notices are rows first, delivered once, in order per
recipient, paced, retried after "slow down" and failures, given back at shutdown, and
taken over from a replica that died. Time is the test's clock: nothing here sleeps."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot import members, outbox
from bot.i18n import verbatim
from bot.models import Notice
from bot.outbox import LEASE, _claim
from bot.pacing import Pacer
from bot.platform import Budget, RateLimited, Undeliverable
from bot.types import Action
from tests.harness import BotHarness


async def _member(bot: BotHarness, name: str) -> int:
    async with bot.app.db.sessions() as session:
        member = await members.find(session, bot.user(name))
    assert member is not None
    return member.id


async def rows(bot: BotHarness) -> list[Notice]:
    async with bot.app.db.sessions() as session:
        return list(await session.scalars(select(Notice).order_by(Notice.id)))


async def test_a_notice_is_queued_once_and_delivered_once(bot):
    kofi = await _known(bot, "kofi")
    services = bot.app.services()
    assert await outbox.dm(services, "event:1", "start", kofi, verbatim("Starting now"))
    assert not await outbox.dm(services, "event:1", "start", kofi, verbatim("Starting now"))
    assert bot.replies_to("kofi") == []  # queued, not sent, until the sender runs
    assert await bot.deliver() == 1
    assert await bot.deliver() == 0
    assert bot.replies_to("kofi").count("Starting now") == 1
    (row,) = await rows(bot)
    assert row.state == "sent" and row.sent_at == bot.clock() and row.message_id


async def test_a_post_goes_to_its_channel_and_thread(bot):
    services = bot.app.services()
    general = bot.channel("general")
    assert await outbox.post(services, "call:1", "7d", general, verbatim("A week left"))
    await bot.deliver()
    assert [p.text for p in bot.posts_in("general")] == ["A week left"]


async def test_slow_down_waits_as_long_as_asked_and_costs_no_attempt(bot):
    kofi = await _known(bot, "kofi")
    bot.platform.errors = [RateLimited(30)]
    await outbox.dm(bot.app.services(), "event:1", "24h", kofi, verbatim("Tomorrow"))
    assert await bot.deliver() == 1  # tried, told to slow down
    assert bot.replies_to("kofi") == []
    bot.clock.advance(seconds=29)
    assert await bot.deliver() == 0
    bot.clock.advance(seconds=1)
    assert await bot.deliver() == 1
    assert bot.replies_to("kofi") == ["Tomorrow"]
    (row,) = await rows(bot)
    assert row.attempts == 0 and row.state == "sent"
    assert _sample(bot, "convener_rate_limited_total", platform=bot.platform_name) == 1


async def test_a_failure_backs_off_and_keeps_the_recipients_order(bot):
    kofi = await _known(bot, "kofi")
    services = bot.app.services()
    bot.platform.errors = [ConnectionError("the platform is down")]
    for n in (1, 2, 3):
        await outbox.dm(services, "event:1", f"n{n}", kofi, verbatim(f"notice {n}"))
    await bot.deliver()
    assert bot.replies_to("kofi") == []  # the first failed; the others wait behind it
    first = (await rows(bot))[0]
    assert first.attempts == 1 and "down" in (first.error or "")
    bot.clock.advance(seconds=4)
    assert await bot.deliver() == 0
    bot.clock.advance(seconds=1)
    await bot.deliver()
    assert bot.replies_to("kofi") == ["notice 1", "notice 2", "notice 3"]


async def test_other_recipients_do_not_wait_behind_a_failing_one(bot):
    kofi, ama = await _known(bot, "kofi"), await _known(bot, "ama")
    services = bot.app.services()
    bot.platform.errors = [ConnectionError("down")]
    await outbox.dm(services, "event:1", "start", kofi, verbatim("for kofi"))
    await outbox.dm(services, "event:1", "start", ama, verbatim("for ama"))
    await bot.deliver()
    assert bot.replies_to("ama") == ["for ama"]
    assert bot.replies_to("kofi") == []


async def test_a_permanent_failure_is_marked_with_its_reason_and_counted(bot):
    kofi = await _known(bot, "kofi")
    bot.platform.errors = [Undeliverable("the account is deactivated")]
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    await bot.deliver()
    bot.clock.advance(hours=2)
    assert await bot.deliver() == 0
    (row,) = await rows(bot)
    assert row.state == "failed" and row.error == "the account is deactivated"
    assert bot.replies_to("kofi") == []
    assert _sample(bot, "convener_outbox_sends_total", platform=bot.platform_name,
                   outcome="failed") == 1  # fmt: skip


async def test_a_member_with_no_account_here_is_failed_at_once(bot):
    services = bot.app.services()
    await outbox.dm(services, "event:1", "start", 4242, verbatim("Starting now"))
    (row,) = await rows(bot)
    assert row.state == "failed" and row.error == outbox.NO_ACCOUNT
    assert await bot.deliver() == 0


async def test_a_caller_who_asks_someone_else_gets_no_row_for_an_unreachable_member(bot):
    services = bot.app.services()
    assert not await outbox.dm(services, "question:1", "asked", 4242, verbatim("Can you help?"),
                               skip_unreachable=True)  # fmt: skip
    assert await rows(bot) == []


async def test_too_many_failures_end_in_failed(bot):
    kofi = await _known(bot, "kofi")
    bot.platform.errors = [ConnectionError("down")] * outbox.MAX_ATTEMPTS
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    for _ in range(outbox.MAX_ATTEMPTS):
        await bot.deliver()
        bot.clock.advance(hours=2)
    (row,) = await rows(bot)
    assert row.state == "failed" and row.attempts == outbox.MAX_ATTEMPTS - 1
    assert bot.replies_to("kofi") == []


async def test_cancelled_mid_send_the_row_is_given_back_never_marked_sent(bot, monkeypatch):
    kofi = await _known(bot, "kofi")
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    started, real = asyncio.Event(), bot.platform.send_dm

    async def hangs(user, text, actions=()):
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(bot.platform, "send_dm", hangs)
    await _cancel_a_round(bot, started)
    (row,) = await rows(bot)
    assert row.state == "queued" and row.claimed_until is None and row.sent_at is None
    monkeypatch.setattr(bot.platform, "send_dm", real)
    assert await bot.deliver() == 1
    assert bot.replies_to("kofi") == ["Starting now"]


async def test_stopped_while_claiming_the_rows_taken_go_back(bot, monkeypatch):
    kofi = await _known(bot, "kofi")
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    real, started = bot.app.db.unit, asyncio.Event()

    async def slow_unit(fn, *args):
        if fn is _claim:
            started.set()
            await asyncio.sleep(0.05)  # the claim is under way when the stop comes
        return await real(fn, *args)

    monkeypatch.setattr(bot.app.db, "unit", slow_unit)
    await _cancel_a_round(bot, started)
    (row,) = await rows(bot)
    assert row.state == "queued" and row.claimed_until is None
    monkeypatch.setattr(bot.app.db, "unit", real)
    assert await bot.deliver() == 1


async def test_a_row_held_by_a_replica_that_died_is_delivered_once_its_lease_ends(bot):
    kofi = await _known(bot, "kofi")
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    held = await bot.app.db.unit(_claim, "dead-replica", {bot.platform_name: 10}, bot.clock())
    assert len(held) == 1
    assert await bot.deliver() == 0  # the other replica holds it
    bot.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await bot.deliver() == 1
    assert await bot.deliver() == 0
    assert bot.replies_to("kofi") == ["Starting now"]


async def test_the_sender_stops_on_sigterm_and_the_next_start_carries_on(bot, monkeypatch):
    """`stop` while a send waits for its turn: the row goes back, and a new sender (the next
    start, or another replica) delivers it once."""
    kofi = await _known(bot, "kofi")
    bot.app.outbox.pacer = Pacer(lambda _: Budget(0.001), sleep=_forever)
    bot.app.outbox.pacer.slot(bot.platform_name, "taken")  # the next slot is far away
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    bot.app.outbox.start()
    for _ in range(500):  # until the sender has taken the row (and waits for its turn)
        if (await rows(bot))[0].claimed_until is not None:
            break
        await asyncio.sleep(0.01)
    await bot.app.outbox.stop(grace=0.05)
    (row,) = await rows(bot)
    assert row.state == "queued" and row.claimed_until is None
    bot.app.outbox.pacer = Pacer()
    assert await bot.deliver() == 1
    assert bot.replies_to("kofi") == ["Starting now"]


async def test_buttons_go_with_the_notice(bot):
    kofi = await _known(bot, "kofi")
    decline = Action(verbatim("Decline"), "decline 7")
    asked = verbatim("Can you help?")
    await outbox.dm(bot.app.services(), "question:7", "asked", kofi, asked, None, [decline])
    await outbox.post(bot.app.services(), "event:7", "announce", bot.channel(), verbatim("RSVP?"),
                      actions=[Action(verbatim("Yes"), "rsvp 7 yes")])  # fmt: skip
    await bot.deliver()
    [told] = [s for s in bot.platform.sent if s.text == "Can you help?"]
    [posted] = bot.posts_in("general")
    drawn = bot.platform_name == "slack"  # Matrix and the console write the command instead
    assert told.extra["actions"] == ([Action("Decline", "decline 7")] if drawn else [])
    assert posted.extra["actions"] == ([Action("Yes", "rsvp 7 yes")] if drawn else [])


async def test_queued_in_a_features_transaction_or_not_at_all(bot):
    kofi = await _known(bot, "kofi")
    services = bot.app.services()
    async with bot.app.db.sessions() as session:
        assert await outbox.dm(
            services, "question:1", "asked", kofi, verbatim("Lost"), session=session
        )
        await session.rollback()  # the feature's own row could not be kept: nor is the notice
    assert await rows(bot) == [] and not bot.app.outbox.woken
    async with bot.app.db.sessions() as session:
        assert await outbox.dm(
            services, "question:1", "asked", kofi, verbatim("Kept"), session=session
        )
        assert not bot.app.outbox.woken  # not before it commits
        await session.commit()
    assert bot.app.outbox.woken
    assert await bot.deliver() == 1 and bot.replies_to("kofi") == ["Kept"]


async def test_the_feature_is_told_once_what_the_notice_became(bot, caplog):
    told: list[outbox.Delivered] = []

    def posted(session, notice):
        told.append(notice)
        if notice.kind == "broken":
            raise RuntimeError("the feature's own row is gone")

    bot.app.outbox.delivered["demo"] = posted
    services = bot.app.services()
    await outbox.post(services, "demo:1", "fine", bot.channel(), verbatim("One"))
    await outbox.post(services, "demo:2", "broken", bot.channel(), verbatim("Two"))
    await outbox.post(services, "other:1", "x", bot.channel(), verbatim("Three"))  # no hook
    await bot.deliver()
    await bot.deliver()
    assert [(n.subject, n.message_id) for n in told] == [
        ("demo:1", bot.posts_in()[0].message_id),
        ("demo:2", bot.posts_in()[1].message_id),
    ]
    assert told[0].sent_at == bot.clock() and told[0].channel_id == bot.channel().id
    assert [p.text for p in bot.posts_in()] == ["One", "Two", "Three"]  # none sent twice
    assert [row.state for row in await rows(bot)] == ["sent"] * 3
    assert "telling its feature failed" in caplog.text


async def test_metrics_show_the_depth_and_the_oldest_row(bot):
    kofi = await _known(bot, "kofi")
    await outbox.dm(bot.app.services(), "event:1", "start", kofi, verbatim("Starting now"))
    bot.clock.advance(minutes=3)
    await bot.app.outbox.measure()
    assert _sample(bot, "convener_outbox_depth") == 1
    assert _sample(bot, "convener_outbox_oldest_seconds") == 180
    await bot.deliver()
    await bot.app.outbox.measure()
    assert _sample(bot, "convener_outbox_depth") == 0


# pacing -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_then_the_sustained_rate():
    clock = Clock()
    pacer = Pacer(lambda _: Budget(0.2, burst=10), clock)
    delays = [pacer.slot("matrix") for _ in range(12)]
    assert delays[:10] == [0.0] * 10
    assert delays[10:] == pytest.approx([5.0, 10.0])


def test_each_channel_is_spaced_and_the_platform_paused_when_told():
    clock = Clock()
    pacer = Pacer(lambda _: Budget(100, burst=100, per_channel_seconds=1.0), clock)
    assert [pacer.slot("slack", "C1") for _ in range(3)] == pytest.approx([0.0, 1.0, 2.0])
    assert pacer.slot("slack", "C2") == 0.0
    pacer.pause("slack", 30)
    assert pacer.slot("slack", "C3") == pytest.approx(30.0)


async def test_waiting_uses_the_pacers_own_clock():
    clock = Clock()
    pacer = Pacer(lambda _: Budget(1, burst=1), clock, clock.sleep)
    for _ in range(3):
        await pacer.wait("slack")
    assert clock.now == pytest.approx(1002.0)


def test_a_deployment_states_its_own_budget(settings):
    from bot.cli import build

    app = build(settings.model_copy(update={"send_rates": "matrix=2/5"}), schedule=False)
    assert app._budget("matrix") == Budget(2.0, 5, 0.0)


# helpers ------------------------------------------------------------------------------------


async def _cancel_a_round(bot: BotHarness, started: asyncio.Event) -> None:
    """Run a round of the sender and cancel it once `started` is set (shutdown mid-round)."""
    round_ = asyncio.create_task(bot.app.outbox.round())
    await started.wait()
    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_


async def _known(bot: BotHarness, name: str) -> int:
    await bot.join(name)
    await bot.dm(name, "stop")  # out of the onboarding conversation
    bot.clear()
    return await _member(bot, name)


async def _forever(_seconds: float) -> None:
    await asyncio.Event().wait()


def _sample(bot: BotHarness, name: str, **labels: str) -> float:
    value = bot.app.metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


def test_a_round_takes_no_more_than_the_budget_sends_within_half_a_lease(bot):
    sender = bot.app.outbox
    sender.pacer = Pacer(lambda _: outbox.for_notices(Budget(0.2, burst=10)))
    assert sender._claimable("matrix") == 8 + int(0.16 * LEASE.total_seconds() / 2)
    sender.pacer = Pacer()
    assert sender._claimable("console") == outbox.ROUND_ROWS


async def test_a_reply_told_to_slow_down_is_sent_again_and_notices_make_way(bot):
    """The answer to a person's command goes first: "slow down" on the reply is obeyed
    and the outbox's notices pause as long, so the retried answer gets the slot."""
    bot.platform.errors = [RateLimited(0.2)]
    await bot.dm("ama", "help")
    assert any("help" in text for text in bot.replies_to("ama"))
    # the notices' pacer runs on the bot's clock, which the test holds still
    assert bot.app.outbox.pacer.slot(bot.platform_name) == pytest.approx(0.2)


async def test_a_reply_is_given_up_only_past_a_persons_patience(bot, monkeypatch, caplog):
    from bot import patience

    monkeypatch.setattr(patience, "PATIENCE_SECONDS", 0.05)
    bot.platform.errors = [RateLimited(0.03), RateLimited(0.03)]
    await bot.dm("ama", "help")
    assert bot.replies_to("ama") == []
    assert "gave up answering" in caplog.text
