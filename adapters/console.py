"""The console: a third platform in a terminal, to try Convener and to script it.

Input lines are `/as <name>`, `/join #<channel>`, `/react <emoji>`, `/reply <text>`,
`/dm <text>`, `/wait <seconds>`, `/convener <command>` (like Slack's slash command), `/help`,
`/quit`, or text posted in the current channel. Files the bot sends (reports, invitations)
are written to `files_dir`. Bot messages print as blocks starting with
`[#channel] convener:`, `[#channel thread] convener:` or `[DM @name] convener:`. A group
conversation (`open_group`) is a channel its members are in, such as `#intro-alice-bob`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import moments
from bot.types import (
    Action,
    ChannelRef,
    Event,
    Home,
    MemberJoined,
    Message,
    OutboundFile,
    ReactionAdded,
    Sent,
    SlashCommand,
    ThreadMessage,
    UserRef,
)

if TYPE_CHECKING:
    from bot.platform import Intake

PLATFORM = "console"
FIRST_MEMBER = "you"
HOME = "general"
MAX_WAIT_SECONDS = 24 * 3600
_NAME = re.compile(r"^[\w.\-]{1,64}$")


@functools.lru_cache(maxsize=4096)
def channel(name: str) -> ChannelRef:
    name = name.lstrip("#")
    return ChannelRef(PLATFORM, name, f"#{name}")


@functools.lru_cache(maxsize=4096)
def direct(user: str) -> ChannelRef:
    return ChannelRef(PLATFORM, f"dm:{user}", f"@{user}", is_direct=True)


@functools.lru_cache(maxsize=4096)
def _person(name: str) -> UserRef:
    return UserRef(PLATFORM, name, name)


@dataclass
class _Posted:
    message_id: str
    thread_id: str | None


@dataclass
class ConsoleState:
    """Who is acting, where, and the last message in each channel."""

    user: str = FIRST_MEMBER
    where: dict[str, str] = field(default_factory=lambda: {FIRST_MEMBER: HOME})
    members: dict[str, set[str]] = field(default_factory=lambda: {HOME: {FIRST_MEMBER}})
    last: dict[str, _Posted] = field(default_factory=dict)
    threads: dict[tuple[str, str], list[ThreadMessage]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # `open_group`'s key -> channel


class ConsoleAdapter:
    """Implements `Platform` by printing, and turns input lines into core events."""

    name = PLATFORM

    def __init__(
        self,
        out: TextIO | None = None,
        files_dir: Path | None = None,
        clock=lambda: datetime.now(UTC),
    ) -> None:
        self.out = out or sys.stdout
        self.files_dir = files_dir or Path.cwd() / "convener-files"
        self.clock = clock
        self.bot_user = UserRef(PLATFORM, "convener", "convener", is_bot=True)
        self.state = ConsoleState()
        self._ids = itertools.count(1)
        self._run = f"{int(clock().timestamp() * 1000):x}"
        self._task: asyncio.Task | None = None

    # Platform --------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"m{next(self._ids)}"

    def _print(self, header: str, text: str) -> None:
        self.out.write(f"{header} convener: {moments.plain(text)}\n")
        self.out.flush()

    async def send(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        message_id = self._next_id()
        if channel.is_direct:
            header = f"[DM {channel.name or channel.id}]"
        else:
            label = channel.name or f"#{channel.id}"
            header = f"[{label} thread]" if thread_id else f"[{label}]"
            self.state.last[channel.id] = _Posted(message_id, thread_id)
            if thread_id:
                self._in_thread(channel, thread_id, message_id, self.bot_user, text)
        self._print(header, text)
        return Sent(channel, message_id, text, thread_id)

    async def send_dm(self, user: UserRef, text: str, actions: Sequence[Action] = ()) -> Sent:
        return await self.send(direct(user.id), text)

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        return None

    async def thread(self, channel: ChannelRef, root_id: str) -> list[ThreadMessage]:
        return list(self.state.threads.get((channel.id, root_id), ()))

    def _in_thread(
        self,
        channel: ChannelRef,
        root: str,
        message_id: str,
        user: UserRef,
        text: str,
        at: datetime | None = None,
    ) -> None:
        replies = self.state.threads.setdefault((channel.id, root), [])
        replies.append(ThreadMessage(message_id, user, text, at or self.clock()))

    async def send_private(
        self,
        user: UserRef,
        text: str,
        channel: ChannelRef | None = None,
        reply_token: str | None = None,
    ) -> Sent:
        sent = await self.send_dm(user, text)
        sent.private_to = user
        return sent

    def _save(self, file: OutboundFile) -> Path:
        """The file written under `files_dir`, by its name (numbered when taken)."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^\w.\-]", "_", file.filename) or "file"
        path = self.files_dir / safe
        stem, suffix, n = path.stem, path.suffix, 1
        while path.exists():
            n += 1
            path = self.files_dir / f"{stem}-{n}{suffix}"
        path.write_bytes(file.data)
        return path

    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        path = self._save(file)
        if text:
            await self.send_dm(user, text)
        ref = direct(user.id)
        self._print(f"[DM {ref.name}]", f"file {path}")
        return Sent(ref, self._next_id(), str(path), file=file)

    async def post_file(
        self,
        channel: ChannelRef,
        file: OutboundFile,
        text: str = "",
        thread_id: str | None = None,
    ) -> Sent:
        """Saved like `send_file`, and printed in the channel (its thread) after `text`."""
        path = self._save(file)
        if text:
            await self.send(channel, text, thread_id)
        sent = await self.send(channel, f"file {path}", thread_id)
        sent.file = file
        return sent

    async def open_group(self, users: Sequence[UserRef], key: str) -> ChannelRef:
        """A shared view, one per key: a channel named after the key's first word and the
        members (`#intro-alice-bob`) that they are all in (each can `/join` it to speak)."""
        name = self.state.groups.get(key)
        if name is None:
            ids = [u.id for u in users if u.id != self.bot_user.id]
            word = re.match(r"[a-z]+", key.lower())
            base = "-".join([word.group() if word else "group", *ids])[:60]
            name, n = base, 1
            while name in self.state.members:
                n += 1
                name = f"{base}-{n}"
            self.state.groups[key] = name
            self.state.members[name] = set(ids)
        return channel(name)

    async def display_name(self, user: UserRef) -> str:
        return user.name or user.id

    async def locale(self, user: UserRef) -> str | None:
        return None

    async def close_choices(self, channel: ChannelRef, message_id: str) -> None:
        return None

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        return False

    def user_from_mention(self, text: str) -> UserRef | None:
        name = text.strip().lstrip("@")
        if text.strip().startswith("@") and _NAME.match(name):
            return UserRef(PLATFORM, name, name)
        return None

    # Input -----------------------------------------------------------------------------

    def _user(self, name: str | None = None) -> UserRef:
        return _person(name or self.state.user)

    def _event_id(self) -> str:
        """Unique across runs on one database: the run's start (ms, hex) and a counter; short,
        since every event id is a key of the activity log's unique index."""
        return f"{self._run}-{next(self._ids):x}"

    def here(self) -> ChannelRef:
        return channel(self.state.where.get(self.state.user, HOME))

    def parse(self, line: str) -> list[Event] | str:
        """The events one input line stands for, or a note to print when it makes none."""
        line = line.rstrip("\r\n")
        now = self.clock()
        user = self._user()
        if not line.strip():
            return []
        head, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if head == "/as":
            if not _NAME.match(rest):
                return "(console) usage: /as <name> (letters, digits, . _ -)"
            self.state.user = rest
            if rest in self.state.where:
                return []
            self.state.where[rest] = HOME
            self.state.members.setdefault(HOME, set()).add(rest)
            return [MemberJoined(self._event_id(), self._user(rest), channel(HOME), now)]
        if head == "/join":
            name = rest.lstrip("#")
            if not _NAME.match(name):
                return "(console) usage: /join #<channel>"
            self.state.where[user.id] = name
            present = self.state.members.setdefault(name, set())
            if user.id in present:
                return f"(console) {user.id} is in #{name}"
            present.add(user.id)
            return [MemberJoined(self._event_id(), user, channel(name), now)]
        if head in ("/react", "/reply"):
            here = self.here()
            last = self.state.last.get(here.id)
            if last is None:
                return f"(console) nothing to {head[1:]} to in {here.name} yet"
            if head == "/react":
                emoji = rest.strip(":") or "+1"
                return [
                    ReactionAdded(
                        self._event_id(), user, here, now, last.message_id, emoji, last.thread_id
                    )
                ]
            if not rest:
                return "(console) usage: /reply <text>"
            thread_id = last.thread_id or last.message_id
            return [self._message(user, here, rest, now, thread_id)]
        if head == "/dm":
            if not rest:
                return "(console) usage: /dm <text>"
            return [self._message(user, direct(user.id), rest, now)]
        if head == "/convener":
            return [SlashCommand(self._event_id(), user, self.here(), now, rest or "help")]
        if head == "/wait":
            return "(console) usage: /wait <seconds>"  # handled by run(), which can sleep
        if head == "/help":
            return self.help()
        if head.startswith("/") and len(head) > 1 and head[1:].isalpha():
            return (
                f"(console) unknown {head[:20]}; use /as, /join, /react, /reply, /dm, /wait, "
                "/convener, /help, /quit, or type a message (!help for commands)"
            )
        return [self._message(user, self.here(), line.strip(), now)]

    def _message(
        self,
        user: UserRef,
        where: ChannelRef,
        text: str,
        now: datetime,
        thread_id: str | None = None,
    ) -> Message:
        message_id = self._next_id()
        if not where.is_direct:
            self.state.last[where.id] = _Posted(message_id, thread_id)
            if thread_id:
                self._in_thread(where, thread_id, message_id, user, text, now)
        return Message(self._event_id(), user, where, now, text, message_id, thread_id)

    def help(self) -> str:
        return "\n".join(
            [
                f"(console) You are acting as {self.state.user} in {self.here().name}. Type a "
                "message to post it; !help lists Convener's commands.",
                "(console) /as <name>: act as someone else (a newcomer joins #general)",
                "(console) /join #<channel>, /react <emoji>, /reply <text> (in the last thread)",
                "(console) /dm <text>: write to Convener directly; /convener <command>: the "
                "slash command",
                "(console) /wait <seconds>: let time pass (scheduled prompts, reminders)",
                f"(console) files Convener sends (reports) are saved in {self.files_dir}",
                "(console) /quit (or Ctrl-D) stops Convener",
            ]
        )

    @staticmethod
    def wait_seconds(line: str) -> float | None:
        head, _, rest = line.strip().partition(" ")
        if head != "/wait":
            return None
        try:
            seconds = float(rest)
        except ValueError:
            return None
        if not 0 <= seconds <= MAX_WAIT_SECONDS:
            return None
        return seconds

    async def feed(self, app: Intake, line: str) -> None:
        """Act on one input line."""
        seconds = self.wait_seconds(line)
        if seconds is not None:
            await asyncio.sleep(seconds)
            return
        result = self.parse(line)
        if isinstance(result, str):
            self.out.write(result + "\n")
            self.out.flush()
            return
        for event in result:
            await app.handle(event)

    async def run(self, app: Intake, stream: TextIO | None = None) -> None:
        """Read input to its end (or until Ctrl-D), acting on each line in turn."""
        stream = stream or sys.stdin
        interactive = stream.isatty()
        if interactive:
            self.out.write(
                "Convener console. You are 'you', a facilitator, in #general. "
                "Type !help for Convener's commands, /help for the console's, "
                f"/as <name> to act as someone else, /quit to stop. Reports are saved in "
                f"{self.files_dir}.\n"
            )
        lines = _LineReader(stream, interactive, lambda: f"{self.state.user}@{self.here().name}> ")
        while (line := await lines.next()) is not None:
            if line.strip() in ("/quit", "/exit"):
                break
            await self.feed(app, line)

    # Lifecycle -------------------------------------------------------------------------

    async def start(self, intake: Intake, stream: TextIO | None = None) -> None:
        """Read input on a task of its own; each line is handled before the next is read."""
        self._task = asyncio.get_running_loop().create_task(self.run(intake, stream))

    async def ready(self) -> None:
        return None

    def health(self) -> str | None:
        return None

    async def wait_closed(self) -> None:
        """Until the input ends."""
        if self._task is not None:
            await self._task

    async def close(self) -> None:
        self.out.flush()

    async def stop(self, grace: float) -> None:
        """Stop reading; a line being handled gets up to `grace` seconds."""
        if self._task is None or self._task.done():
            return
        done, _ = await asyncio.wait([self._task], timeout=grace)
        if not done:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class _LineReader:
    """Reads lines on a daemon thread, one at a time on request, so a blocked read never
    holds up shutdown (SIGTERM or Ctrl-C while waiting for input)."""

    def __init__(self, stream: TextIO, interactive: bool, prompt) -> None:
        self.stream = stream
        self.interactive = interactive
        self.prompt = prompt

    def _read(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future) -> None:
        try:
            if self.interactive:
                line: str | None = input(self.prompt())
            else:
                line = self.stream.readline() or None
        except (EOFError, OSError, ValueError):  # end of input, or a closed stream
            line = None
        loop.call_soon_threadsafe(_set, future, line)

    async def next(self) -> str | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        threading.Thread(target=self._read, args=(loop, future), daemon=True).start()
        return await future


def _set(future: asyncio.Future, line: str | None) -> None:
    if not future.done():
        future.set_result(line)
