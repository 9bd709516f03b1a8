"""The outbox: every notice that is not the immediate reply to a command (a reminder, a
start post, a cancellation, a call's DM) is a row first (`post`, `dm`), and the `Outbox`
sender delivers rows.

- Once: a notice is unique by subject, kind and member, so asking twice queues it once,
  whatever the process or replica asking.
- Claimed per row: a sender takes a row for a lease and marks it sent only once the platform
  took it; a failure, a "slow down" or a cancellation at shutdown gives the row back (due
  again later), never leaving it marked sent when it was not. A replica that dies holding
  rows loses them when the lease ends, and another delivers them.
- In order per recipient: a row goes only once every earlier row to the same member or
  channel has (each round claims the head of each recipient's queue).
- Paced: four fifths of each platform's budget (`bot.pacing`), so that replies to people,
  which are neither queued nor paced, find room beside a burst; "slow down" pauses the
  platform for as long as it asked and never costs the row an attempt. Other failures back
  off (5 s, doubling, at most an hour) and after `MAX_ATTEMPTS` the row is marked failed
  with the reason, as is a row that can never go (`Undeliverable`: no account on a
  running platform, the account is gone).
- Told when sent: a feature that needs the message a notice became (a prompt's replies, the
  ✋ on an offer) declares `Router.delivered` for its subjects' prefix; the hook runs in the
  transaction that marks the row sent, so it runs exactly once with it.

A feature that claims a row of its own for a notice (a routed question's expert, a prompt's
slot) queues the notice in the same transaction (`session=`), so both or neither are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, event, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from bot import i18n, members
from bot.context import Services
from bot.db import Database, upsert
from bot.direct import reachable
from bot.i18n import Message
from bot.metrics import Metrics
from bot.models import Identity, Notice
from bot.models.notices import FAILED, QUEUED, SENT
from bot.pacing import Pacer
from bot.platform import Budget, Platform, RateLimited, Undeliverable
from bot.types import Action, ChannelRef, OutboundFile, UserRef
from bot.watch import Watch, Watches

log = logging.getLogger(__name__)

CHANNEL = 0  # the member id of a post in a channel
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
ROUND_ROWS = 200  # rows claimed per platform per round, at most
AT_ONCE = 8  # deliveries under way at once: on SQLite a reply's claim waits behind no more
IDLE_SECONDS = 1.0  # how often an idle sender looks for rows queued by other replicas
GATHER_SECONDS = 0.25  # woken, wait this long: a burst being queued goes out in one round
NO_ACCOUNT = "no account on a running platform"
NOTICE_SHARE = 0.8  # of a platform's budget; the rest is kept for replies to people


def for_notices(budget: Budget) -> Budget:
    """The part of a platform's budget notices use: replies to people's commands are not
    queued or paced, and find room beside a burst of notices."""
    if budget.per_second <= 0:
        return budget
    return Budget(
        budget.per_second * NOTICE_SHARE,
        max(1, int(budget.burst * NOTICE_SHARE)),
        budget.per_channel_seconds,
    )


@dataclass(frozen=True, slots=True)
class Delivered:
    """A notice the platform took, as a `Router.delivered` hook sees it."""

    subject: str
    kind: str
    member_id: int
    platform: str
    channel_id: str | None
    message_id: str | None
    sent_at: datetime

    @property
    def key(self) -> str:
        """What the subject is about, within its feature: `12` in `question:12`."""
        return self.subject.partition(":")[2]


OnDelivered = Callable[[Session, Delivered], Iterable[tuple[Watch, str]] | None]
"""`hook(session, notice)`, run in the transaction that marks the notice sent; it may return
(watch, key) pairs to watch on the notice's platform once that transaction commits."""


def prefix(subject: str) -> str:
    """The feature a subject belongs to: `question` in `question:12`."""
    return subject.partition(":")[0]


def member_recipient(member_id: int) -> str:
    return f"m:{member_id}"


def channel_recipient(channel: ChannelRef) -> str:
    return f"c:{channel.platform}:{channel.id}"


# queueing -------------------------------------------------------------------------------


async def post(
    ctx: Services,
    subject: str,
    kind: str,
    channel: ChannelRef,
    text: Message,
    thread_id: str | None = None,
    actions: Sequence[Action] = (),
    session: AsyncSession | None = None,
    attachment: OutboundFile | None = None,
) -> bool:
    """Queue a post in `channel` (in `thread_id`) once, in the channel's language; True if
    this call queued it. With `session`, the row is written in that transaction and goes
    once it commits. With `attachment` (a text file such as an `.ics`), the post is that
    file with the text beside it, and has no `actions`."""
    language = ctx.languages.of_channel(channel)
    return await _queue(
        ctx, session, subject, kind, CHANNEL,
        **_post_row(channel, text, thread_id, actions, language, attachment),
    )  # fmt: skip


def post_in_unit(
    session: Session,
    subject: str,
    kind: str,
    channel: ChannelRef,
    text: Message,
    now: datetime,
    language: str,
) -> bool:
    """`post` inside a unit of work (`Database.unit`), in `language` (the channel's,
    `Languages.of_channel`): the caller commits, then wakes the outbox (`Outbox.wake`, on
    the event loop)."""
    row = _post_row(channel, text, None, (), language)
    return session.scalar(_insert(session, subject, kind, CHANNEL, now, row)) is not None


def _post_row(
    channel: ChannelRef,
    text: Message,
    thread_id: str | None,
    actions: Sequence[Action],
    language: str,
    attachment: OutboundFile | None = None,
) -> dict[str, object]:
    return {
        "recipient": channel_recipient(channel), "platform": channel.platform,
        "channel_id": channel.id, "channel_name": channel.name, "thread_id": thread_id,
        "text": i18n.render(text, language), "actions": _stored(actions, language),
        "attachment": _stored_file(attachment, actions),
    }  # fmt: skip


async def dm(
    ctx: Services,
    subject: str,
    kind: str,
    member_id: int,
    text: Message,
    prefer: str | None = None,
    actions: Sequence[Action] = (),
    session: AsyncSession | None = None,
    skip_unreachable: bool = False,
    attachment: OutboundFile | None = None,
) -> bool:
    """Queue a direct message to a member once, in their language and time zone (on their
    account on `prefer` if they have one there, else on another running platform); True if
    this call queued it. A member with no account on a running platform gets a row marked
    failed, so it is counted and not asked again (with `skip_unreachable`, nothing is written
    and False returned, for a caller that asks someone else instead). With `session`, the row
    is written in that transaction. With `attachment` (a text file such as an `.ics`), the
    message is that file with the text beside it, and has no `actions`."""
    if session is None:
        async with ctx.db() as own:
            queued = await dm(
                ctx, subject, kind, member_id, text, prefer, actions, own, skip_unreachable,
                attachment,
            )  # fmt: skip
            await own.commit()
        return queued
    user = reachable(ctx.platforms, await members.platform_users(session, member_id), prefer)
    if user is None and skip_unreachable:
        return False
    language, zone = await ctx.languages.reader_of_member_id(session, member_id)
    return await _queue(
        ctx, session, subject, kind, member_id, recipient=member_recipient(member_id),
        platform=user.platform if user else None, text=i18n.render(text, language, zone),
        actions=_stored(actions, language), attachment=_stored_file(attachment, actions),
        **({} if user else {"state": FAILED, "error": NO_ACCOUNT}),
    )  # fmt: skip


def _stored(actions: Sequence[Action], language: str) -> list[list] | None:
    """`[label, command]`, with a third item `True` for an action of a poll choice (rows
    queued before polls have pairs)."""
    return [
        [i18n.render(a.label, language), a.command, *((True,) if a.poll else ())] for a in actions
    ] or None


def _stored_file(file: OutboundFile | None, actions: Sequence[Action]) -> dict | None:
    """`{"filename", "mimetype", "text"}`: a notice carries a text file or buttons, not both."""
    if file is None:
        return None
    if actions:
        raise ValueError("a notice carries a file or actions, not both")
    return {"filename": file.filename, "mimetype": file.mimetype, "text": file.data.decode()}


def _file(stored: Mapping | None) -> OutboundFile | None:
    if not stored:
        return None
    name = stored["filename"]
    return OutboundFile(name, stored["text"].encode(), name, stored["mimetype"])


def _action(stored: Sequence) -> Action:
    return Action(stored[0], stored[1], poll=len(stored) > 2 and stored[2] is True)


async def _queue(
    ctx: Services,
    session: AsyncSession | None,
    subject: str,
    kind: str,
    member_id: int,
    **row: object,
) -> bool:
    if session is None:
        async with ctx.db() as own:
            queued = await _queue(ctx, own, subject, kind, member_id, **row)
            await own.commit()
        return queued
    queued = await session.scalar(_insert(session, subject, kind, member_id, ctx.now(), row))
    if queued is not None and row.get("state", QUEUED) == QUEUED:
        event.listen(session.sync_session, "after_commit", lambda _: ctx.outbox.wake(), once=True)
    return queued is not None


def _insert(
    session: AsyncSession | Session,
    subject: str,
    kind: str,
    member_id: int,
    now: datetime,
    row: Mapping[str, object],
):
    """The statement that queues a notice once (its id, or nothing when it was queued)."""
    values = {"state": QUEUED, "created_at": now, "due_at": now, "attempts": 0, **row}
    return (
        upsert(session, Notice)
        .values(subject=subject, kind=kind, member_id=member_id, **values)
        .on_conflict_do_nothing()
        .returning(Notice.id)
    )


# delivering -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """A claimed notice, as the sender needs it."""

    id: int
    subject: str
    kind: str
    member_id: int
    platform: str
    channel_id: str | None
    channel_name: str | None
    thread_id: str | None
    text: str
    actions: tuple[Action, ...]
    attempts: int
    user_id: str | None = None  # a direct message's addressee on `platform`
    attachment: OutboundFile | None = None


class Outbox:
    """Delivers queued notices, on every replica (rows are claimed one by one)."""

    def __init__(
        self,
        db: Database,
        platforms: Mapping[str, Platform],
        clock: Callable[[], datetime],
        metrics: Metrics,
        pacer: Pacer | None = None,
        delivered: Mapping[str, OnDelivered] | None = None,
        watches: Watches | None = None,
    ) -> None:
        self.db = db
        self.platforms = platforms
        self.clock = clock
        self.metrics = metrics
        self.pacer = pacer or Pacer()
        self.delivered = dict(delivered or {})
        self.watches = watches
        self.token = uuid.uuid4().hex[:16]
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()  # set by `stop`: deliveries not begun give their rows back
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._at_once = asyncio.Semaphore(AT_ONCE)

    def wake(self) -> None:
        """Rows were queued here: look now rather than at the next idle check."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the sender runs here in the background (`start`)."""
        return self._task is not None

    @property
    def woken(self) -> bool:
        """Whether rows were queued here since the sender last found nothing to do."""
        return self._wake.is_set()

    async def deliver_all(self) -> int:
        """Run rounds until none is due (tests and scripts, where no sender runs: after a
        `stop`, this is the next start)."""
        if self._task is None:
            self._stopping = False
            self._halt.clear()
        handled = 0
        while found := await self.round():
            handled += found
        self._wake.clear()
        return handled

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._halt.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    def halt(self) -> None:
        """Take no more rows from now (SIGTERM): rows of the round under way that are not
        being sent go back; `stop` then waits for the sends under way."""
        self._stopping = True
        self._halt.set()
        self._wake.set()

    async def stop(self, grace: float) -> None:
        """Take no more rows; rows of the round under way that are not being sent go back at
        once, and the sends under way get up to `grace` seconds to finish before they are
        cancelled (and their rows given back)."""
        self.halt()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait([task], timeout=grace)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                handled = await self.round()
            except Exception as exc:  # the database is away: the rows wait in it
                log.warning("the outbox could not take rows (%s: %s); trying again shortly",
                            type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc)
                            else "")  # fmt: skip
                handled = 0
            if self._stopping:
                return
            if not handled:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                    await asyncio.sleep(GATHER_SECONDS)

    async def round(self) -> int:
        """Claim the rows due now (the head of each recipient's queue, on the platforms
        running here) and deliver them; returns how many were handled."""
        if self._stopping:
            return 0
        await self.measure()
        limits = {name: self._claimable(name) for name in self.platforms}
        claiming = asyncio.ensure_future(self.db.unit(_claim, self.token, limits, self.clock()))
        try:
            rows = await asyncio.shield(claiming)
        except asyncio.CancelledError:  # stopped while claiming: what was taken goes back
            with contextlib.suppress(Exception):
                taken = await claiming
                await asyncio.shield(self.db.unit(_release, [r.id for r in taken], self.token))
            raise
        if not rows:
            return 0
        results = await asyncio.gather(
            *(self._deliver(row) for row in rows), return_exceptions=True
        )
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, Exception):  # settling it failed: its lease brings it back
                log.warning("notice %s: could not record the outcome (%s: %s)", row.id,
                            type(result).__name__, str(result)[:200])  # fmt: skip
        return len(rows)

    def _claimable(self, platform: str) -> int:
        """Rows to take on `platform` in one round: no more than its budget sends in half
        a lease, so that none still waits for its turn when the lease ends."""
        budget = self.pacer.budget(platform)
        if budget.per_second <= 0:
            return ROUND_ROWS
        in_time = budget.burst + budget.per_second * LEASE.total_seconds() / 2
        return max(1, min(ROUND_ROWS, int(in_time)))

    async def measure(self) -> tuple[int, float]:
        """The outbox's depth and the age (seconds) of its oldest row, also set in
        `/metrics`."""
        depth, oldest = await self.db.read(_depth)
        age = max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0
        self.metrics.outbox_depth.set(depth)
        self.metrics.outbox_oldest.set(age)
        return depth, age

    async def _deliver(self, row: Row) -> None:
        platform = self.platforms[row.platform]
        try:
            await self._at_once.acquire()
        except asyncio.CancelledError:
            await asyncio.shield(self._settle(row, retry_in=0.0, error=None, counts=False))
            raise
        try:
            await self._attempt(platform, row)
        finally:
            self._at_once.release()

    async def _attempt(self, platform: Platform, row: Row) -> None:
        try:
            delay = self.pacer.slot(
                row.platform, row.channel_id or f"dm:{row.member_id}", _cost(platform, row)
            )
            if delay > 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), delay)
            if self._stopping:  # not begun: it goes back for the next start or replica
                await asyncio.shield(self._settle(row, retry_in=0.0, error=None, counts=False))
                return
            message_id = await self._send(platform, row)
        except asyncio.CancelledError:
            await asyncio.shield(self._settle(row, retry_in=0.0, error=None, counts=False))
            raise
        except RateLimited as exc:
            self.metrics.rate_limited.labels(row.platform).inc()
            self.pacer.pause(row.platform, exc.retry_after)
            await self._settle(row, retry_in=exc.retry_after, error=None, counts=False)
            self._count(row, "rate_limited")
        except Undeliverable as exc:
            await self._fail(row, str(exc) or type(exc).__name__)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts + 1 >= MAX_ATTEMPTS:
                await self._fail(row, reason)
            else:
                delay = min(FIRST_BACKOFF_SECONDS * 2**row.attempts, MAX_BACKOFF_SECONDS)
                log.warning("notice %s: could not send (%s); trying again in %.0f s", row.id,
                            reason[:200], delay)  # fmt: skip
                await self._settle(row, retry_in=delay, error=reason, counts=True)
                self._count(row, "retry")
        else:
            await asyncio.shield(self._record_sent(row, message_id))
            self._count(row, "sent")

    async def _record_sent(self, row: Row, message_id: str | None) -> None:
        hook = self.delivered.get(prefix(row.subject))
        now = self.clock()
        notice = Delivered(
            row.subject, row.kind, row.member_id, row.platform, row.channel_id, message_id, now
        )
        watched = await self.db.unit(_sent, row.id, self.token, now, hook, notice)
        if self.watches is not None:
            for watch, key in watched:
                self.watches.add(watch, row.platform, key)

    async def _send(self, platform: Platform, row: Row) -> str | None:
        if row.member_id == CHANNEL:
            assert row.channel_id is not None
            channel = ChannelRef(row.platform, row.channel_id, row.channel_name)
            if row.attachment is not None:
                sent = await platform.post_file(channel, row.attachment, row.text, row.thread_id)
            else:
                sent = await platform.send(channel, row.text, row.thread_id, actions=row.actions)
            return sent.message_id
        if row.user_id is None:
            raise Undeliverable(NO_ACCOUNT)
        user = UserRef(row.platform, row.user_id)
        if row.attachment is not None:
            return (await platform.send_file(user, row.attachment, row.text)).message_id
        return (await platform.send_dm(user, row.text, actions=row.actions)).message_id

    async def _settle(self, row: Row, *, retry_in: float, error: str | None, counts: bool) -> None:
        due = self.clock() + timedelta(seconds=retry_in)
        await self.db.unit(_give_back, row.id, self.token, due, error, counts)

    async def _fail(self, row: Row, reason: str) -> None:
        log.warning("notice %s to %s: not delivered (%s)", row.id,
                    f"member {row.member_id}" if row.member_id else row.channel_id,
                    reason[:200])  # fmt: skip
        await self.db.unit(_failed, row.id, self.token, self.clock(), reason)
        self._count(row, "failed")

    def _count(self, row: Row, outcome: str) -> None:
        self.metrics.outbox_sends.labels(row.platform, outcome).inc()


def _cost(platform: Platform, row: Row) -> int:
    """The requests a send costs against the platform's budget: more than one where the
    adapter says so (a direct message that opens a Matrix room first)."""
    if row.member_id == CHANNEL or row.user_id is None:
        return 1
    cost = getattr(platform, "dm_cost", None)
    return cost(UserRef(row.platform, row.user_id)) if cost is not None else 1


# the rows -------------------------------------------------------------------------------

_EARLIER = aliased(Notice)
_ROW_COLUMNS = (
    Notice.id, Notice.subject, Notice.kind, Notice.member_id, Notice.platform,
    Notice.channel_id, Notice.channel_name, Notice.thread_id, Notice.text, Notice.actions,
    Notice.attempts, Notice.attachment,
)  # fmt: skip


def _claim(session, token: str, limits: Mapping[str, int], now: datetime) -> list[Row]:
    """Take, for a lease, the rows due now that head their recipient's queue (a row waits
    while an earlier one to the same recipient is queued), at most `limits[platform]` on
    each platform."""
    free = (
        Notice.state == QUEUED,
        Notice.due_at <= now,
        or_(Notice.claimed_until.is_(None), Notice.claimed_until < now),
    )
    head = ~exists().where(
        _EARLIER.recipient == Notice.recipient, _EARLIER.state == QUEUED, _EARLIER.id < Notice.id
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    ids: list[int] = []
    for platform, limit in limits.items():
        heads = (
            select(Notice.id)
            .where(*free, Notice.platform == platform, head)
            .order_by(Notice.id)
            .limit(limit)
        )
        if postgres:
            heads = heads.with_for_update(skip_locked=True, of=Notice)
        ids += session.scalars(heads)
    if not ids:
        session.rollback()
        return []
    claimed = session.execute(
        update(Notice)
        .where(Notice.id.in_(ids), *free)  # free still: another process may have been first
        .values(claim_token=token, claimed_until=now + LEASE)
        .returning(*_ROW_COLUMNS)
    ).all()
    addressees = _addressees(session, claimed)
    session.commit()
    rows = [_row(found, addressees) for found in claimed]
    return sorted(rows, key=lambda row: row.id)


def _row(found, addressees: Mapping[tuple[int, str], str]) -> Row:
    (id_, subject, kind, member_id, platform, channel_id, channel_name, thread_id, text,
     actions, attempts, attachment) = found  # fmt: skip
    return Row(
        id_, subject, kind, member_id, platform, channel_id, channel_name, thread_id, text,
        tuple(_action(stored) for stored in actions or ()), attempts,
        user_id=addressees.get((member_id, platform)), attachment=_file(attachment),
    )  # fmt: skip


def _addressees(session, claimed) -> dict[tuple[int, str], str]:
    """Each direct message's account on its platform, read with the claim."""
    wanted = {row.member_id for row in claimed if row.member_id != CHANNEL}
    if not wanted:
        return {}
    found: dict[tuple[int, str], str] = {}
    for member_id, platform, user_id in session.execute(
        select(Identity.member_id, Identity.platform, Identity.user_id)
        .where(Identity.member_id.in_(wanted))
        .order_by(Identity.id)
    ):
        found.setdefault((member_id, platform), user_id)
    return found


def _mine(notice_id: int, token: str):
    return and_(Notice.id == notice_id, Notice.claim_token == token, Notice.state == QUEUED)


def _sent(
    session: Session,
    notice_id: int,
    token: str,
    now: datetime,
    hook: OnDelivered | None,
    notice: Delivered,
) -> list[tuple[Watch, str]]:
    """Mark the row sent and tell its feature, in one transaction; what to watch then. A
    hook that fails is logged and undone alone: the notice went, so the row is sent."""
    marked = session.execute(
        update(Notice)
        .where(_mine(notice_id, token))
        .values(
            state=SENT, sent_at=now, message_id=notice.message_id, claimed_until=None, error=None
        )
    )
    watched: list[tuple[Watch, str]] = []
    if hook is not None and marked.rowcount == 1:
        try:
            with session.begin_nested():
                watched = list(hook(session, notice) or ())
        except Exception:
            log.exception("notice %s (%s) was sent; telling its feature failed", notice_id,
                          notice.subject)  # fmt: skip
            watched = []
    session.commit()
    return watched


def _give_back(
    session, notice_id: int, token: str, due: datetime, error: str | None, counts: bool
) -> None:
    values: dict[str, object] = {"due_at": due, "claimed_until": None, "claim_token": None}
    if error is not None:
        values["error"] = error
    if counts:
        values["attempts"] = Notice.attempts + 1
    session.execute(update(Notice).where(_mine(notice_id, token)).values(values))
    session.commit()


def _release(session, notice_ids: list[int], token: str) -> None:
    """Give claimed rows back as they were (the sender stopped before trying them)."""
    if notice_ids:
        session.execute(
            update(Notice)
            .where(Notice.id.in_(notice_ids), Notice.claim_token == token, Notice.state == QUEUED)
            .values(claimed_until=None, claim_token=None)
        )
    session.commit()


def _failed(session, notice_id: int, token: str, now: datetime, reason: str) -> None:
    session.execute(
        update(Notice)
        .where(_mine(notice_id, token))
        .values(state=FAILED, error=reason, claimed_until=None, sent_at=None, due_at=now)
    )
    session.commit()


def _depth(session) -> tuple[int, datetime | None]:
    depth, oldest = session.execute(
        select(func.count(), func.min(Notice.created_at)).where(Notice.state == QUEUED)
    ).one()
    return depth, oldest
