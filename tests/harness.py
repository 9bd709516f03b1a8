"""A fake platform that records what was sent, and a harness that drives the real core
through it, the way maubot's test bot does. Names become platform-shaped user ids, so the
same test runs as Slack, Matrix or console."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.cli import build
from bot.settings import Settings
from bot.types import (
    ChannelRef,
    Home,
    MemberJoined,
    MemberLeft,
    Message,
    OutboundFile,
    ReactionAdded,
    Sent,
    SlashCommand,
    ThreadMessage,
    UserRef,
)

PLATFORMS = ("console", "matrix", "slack")


def user_id(platform: str, name: str) -> str:
    if platform == "slack":
        return "U" + re.sub(r"\W", "", name.upper())
    if platform == "matrix":
        return f"@{name.lower()}:example.org"
    return name


def mention(platform: str, name: str) -> str:
    if platform == "slack":
        return f"<@{user_id(platform, name)}>"
    return user_id(platform, name) if platform == "matrix" else f"@{name}"


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class FakePlatform:
    """Implements `Platform` by recording every outbound operation in `sent`."""

    name: str
    sent: list[Sent] = field(default_factory=list)
    bot_user: UserRef | None = None
    fail_next: int = 0
    errors: list[BaseException] = field(default_factory=list)  # raised by the next sends
    threads: dict[tuple[str, str], list[ThreadMessage]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bot_user = UserRef(self.name, user_id(self.name, "convener"), "convener", True)
        self._ids = itertools.count(1)

    def _id(self) -> str:
        return f"out{next(self._ids)}"

    def _check(self) -> None:
        if self.errors:
            raise self.errors.pop(0)
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("fake platform is down")

    async def send(
        self, channel: ChannelRef, text: str, thread_id: str | None = None, actions=()
    ) -> Sent:
        self._check()
        sent = Sent(channel, self._id(), text, thread_id)
        sent.extra["actions"] = self._buttons(actions)
        if thread_id:
            self.reply_in(channel, thread_id, sent.message_id, self.bot_user, text)
        if channel.is_direct and channel.id.startswith("dm-"):
            sent.private_to = UserRef(self.name, channel.id[3:])
        self.sent.append(sent)
        return sent

    async def send_dm(self, user: UserRef, text: str, actions=()) -> Sent:
        self._check()
        sent = Sent(direct(user), self._id(), text, private_to=user)
        sent.extra["actions"] = self._buttons(actions)
        self.sent.append(sent)
        return sent

    def _buttons(self, actions) -> list:
        """Buttons as Slack draws them; Matrix and the console have none."""
        return list(actions) if self.name == "slack" else []

    def reply_in(self, channel: ChannelRef, root: str, message_id: str, user, text: str) -> None:
        """A reply the platform now shows in a thread (what `thread` answers)."""
        replies = self.threads.setdefault((channel.id, root), [])
        replies.append(ThreadMessage(message_id, user, text, datetime.now(UTC)))

    async def thread(self, channel: ChannelRef, root_id: str) -> list[ThreadMessage]:
        self._check()
        return list(self.threads.get((channel.id, root_id), ()))

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        if self.name == "slack":
            return f"https://example.slack.com/archives/{channel.id}/p{message_id}"
        if self.name == "matrix":
            return f"https://matrix.to/#/{channel.id}/{message_id}"
        return None

    async def send_private(self, user, text, channel=None, reply_token=None) -> Sent:
        """Slack answers ephemerally in the channel; Matrix and the console have no
        ephemeral messages, so the answer is a direct message there (as in their adapters)."""
        self._check()
        if self.name == "slack" and channel is not None and not channel.is_direct:
            sent = Sent(channel, self._id(), text, private_to=user)
            sent.extra["ephemeral"] = True
        else:
            where = channel if channel is not None and channel.is_direct else direct(user)
            sent = Sent(where, self._id(), text, private_to=user)
        self.sent.append(sent)
        return sent

    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        self._check()
        sent = Sent(direct(user), self._id(), text, private_to=user, file=file)
        self.sent.append(sent)
        return sent

    async def post_file(
        self, channel: ChannelRef, file: OutboundFile, text: str = "", thread_id=None
    ) -> Sent:
        self._check()
        sent = Sent(channel, self._id(), text, thread_id, file=file)
        self.sent.append(sent)
        return sent

    async def open_group(self, users, key: str) -> ChannelRef:
        """Slack's group DM, a Matrix room, the console's shared view: one per `key`."""
        self._check()
        groups = self.__dict__.setdefault("groups", {})
        if key not in groups:
            members = ",".join(sorted(user.id for user in users))
            groups[key] = (
                ChannelRef(self.name, f"group-{len(groups) + 1}", f"group {members}"),
                list(users),
            )
        return groups[key][0]

    async def display_name(self, user: UserRef) -> str:
        return user.name or user.id

    async def locale(self, user: UserRef) -> str | None:
        """What a test set in `locales` (Slack's `users.info` locale); None elsewhere."""
        return getattr(self, "locales", {}).get(user.id)

    async def close_choices(self, channel: ChannelRef, message_id: str) -> None:
        return None

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        return False

    def user_from_mention(self, text: str) -> UserRef | None:
        text = text.strip()
        if self.name == "slack":
            m = re.fullmatch(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", text)
            return UserRef("slack", m.group(1)) if m else None
        if self.name == "matrix":
            return UserRef("matrix", text) if re.fullmatch(r"@[^:\s]+:\S+", text) else None
        m = re.fullmatch(r"@([\w.\-]{1,64})", text)
        return UserRef("console", m.group(1), m.group(1)) if m else None


def direct(user: UserRef) -> ChannelRef:
    return ChannelRef(user.platform, f"dm-{user.id}", f"@{user.name or user.id}", True)


class BotHarness:
    """Drives a real `Convener` (router, handlers, database) through a `FakePlatform`."""

    def __init__(self, platform: str, settings: Settings, clock: FakeClock) -> None:
        self.platform_name = platform
        self.platform = FakePlatform(platform)
        self.clock = clock
        self.settings = settings
        self.app = build(settings, clock=clock, schedule=False)
        self.app.add_platform(self.platform)
        self._events = itertools.count(1)
        self._messages = itertools.count(1)

    async def start(self) -> BotHarness:
        await self.app.start(migrate=False)
        return self

    async def close(self) -> None:
        await self.app.close()

    async def _handle(self, event) -> None:
        """Handle the event, then deliver what it queued in the outbox (the sender that
        `convener run` starts does this in the background)."""
        await self.app.handle(event)
        if self.app.outbox.woken:
            await self.deliver()

    async def deliver(self) -> int:
        """Deliver every notice queued and due (the outbox's rounds, run here)."""
        return await self.app.outbox.deliver_all()

    # people and places --------------------------------------------------------------

    def user(self, name: str) -> UserRef:
        return UserRef(self.platform_name, user_id(self.platform_name, name), name)

    def mention(self, name: str) -> str:
        return mention(self.platform_name, name)

    def channel(self, name: str = "general") -> ChannelRef:
        name = name.lstrip("#")
        prefix = {"slack": "C", "matrix": "!"}.get(self.platform_name, "")
        cid = f"{prefix}{name.upper()}" if self.platform_name == "slack" else f"{prefix}{name}"
        if self.platform_name == "matrix":
            cid += ":example.org"
        return ChannelRef(self.platform_name, cid, f"#{name}")

    def _event_id(self) -> str:
        return f"ev{next(self._events)}-{uuid.uuid4().hex[:8]}"

    # inbound ------------------------------------------------------------------------

    async def say(
        self,
        name: str,
        text: str,
        channel: str = "general",
        thread_id: str | None = None,
        event_id: str | None = None,
    ) -> Message:
        message = Message(
            event_id or self._event_id(),
            self.user(name),
            self.channel(channel),
            self.clock(),
            text,
            f"in{next(self._messages)}",
            thread_id,
        )
        if thread_id:
            self.platform.reply_in(
                message.channel, thread_id, message.message_id, message.user, text
            )
        await self._handle(message)
        return message

    def edit(self, message: Message, text: str) -> None:
        """The author edits a reply (platforms send no new activity for it)."""
        replies = self.platform.threads[(message.channel.id, message.thread_id)]
        for n, reply in enumerate(replies):
            if reply.message_id == message.message_id:
                replies[n] = ThreadMessage(reply.message_id, reply.user, text, reply.ts)

    def delete(self, message: Message) -> None:
        replies = self.platform.threads[(message.channel.id, message.thread_id)]
        replies[:] = [r for r in replies if r.message_id != message.message_id]

    async def dm(self, name: str, text: str) -> Message:
        user = self.user(name)
        message = Message(
            self._event_id(), user, direct(user), self.clock(), text, f"in{next(self._messages)}"
        )
        await self._handle(message)
        return message

    async def slash(self, name: str, text: str, channel: str = "general") -> SlashCommand:
        event = SlashCommand(
            self._event_id(), self.user(name), self.channel(channel), self.clock(), text
        )
        await self._handle(event)
        return event

    async def join(self, name: str, channel: str = "general", event_id: str | None = None):
        event = MemberJoined(
            event_id or self._event_id(), self.user(name), self.channel(channel), self.clock()
        )
        await self._handle(event)
        return event

    async def leave(self, name: str, channel: str = "general") -> MemberLeft:
        event = MemberLeft(self._event_id(), self.user(name), self.channel(channel), self.clock())
        await self._handle(event)
        return event

    async def react(
        self,
        name: str,
        emoji: str,
        message_id: str,
        channel: str = "general",
        thread_id: str | None = None,
    ) -> ReactionAdded:
        event = ReactionAdded(
            self._event_id(),
            self.user(name),
            self.channel(channel),
            self.clock(),
            message_id,
            emoji,
            thread_id,
        )
        await self._handle(event)
        return event

    # outbound -----------------------------------------------------------------------

    def replies_to(self, name: str) -> list[str]:
        user = self.user(name)
        return [s.text for s in self.platform.sent if s.private_to == user]

    def last_reply_to(self, name: str) -> str | None:
        replies = self.replies_to(name)
        return replies[-1] if replies else None

    def posts_in(self, channel: str = "general") -> list[Sent]:
        ref = self.channel(channel)
        return [s for s in self.platform.sent if s.channel == ref and s.private_to is None]

    def files_to(self, name: str) -> list[OutboundFile]:
        user = self.user(name)
        return [s.file for s in self.platform.sent if s.private_to == user and s.file]

    def clear(self) -> None:
        self.platform.sent.clear()
