"""A Slack workspace export (the zip an admin downloads, or the same layout unpacked, or
written by slackdump) read as history units for `bot.history`.

The layout (https://slack.com/help/articles/220556107): `users.json`, `channels.json`
(public channels), `groups.json` (private ones), `mpims.json` and `dms.json` when the export
holds direct conversations, and one folder per conversation (named as the channel, or by its
id) with a JSON list of messages per day, `YYYY-MM-DD.json`. Messages are read as the live
adapter reads them (`translate_message`) and keyed the same way, so a message seen live and
then imported is one row; reactions come from each message's `reactions` list, one per
reacting member at the message's time; `channel_join`/`channel_leave` notices are joins and
leaves. Direct conversations between members are private and the live bot never sees them:
they are counted and left out.

Files are read one at a time, a day at a time across channels (memory does not grow with the
export). Input that is not an
export, or a day file that is not a list of messages with `ts`, raises `BadInput` naming the
file: the caller reads everything once before writing anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from adapters.slack.events import (
    PERSON_SUBTYPES,
    channel_ref,
    parse_ts,
    reaction_key,
    translate_message,
)
from adapters.slack.text import PLATFORM
from bot.history import BadInput, Profile, Unit
from bot.types import ChannelRef, Event, MemberJoined, MemberLeft, Message, ReactionAdded, UserRef

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\.json")
JOINS = frozenset({"channel_join", "group_join"})
LEAVES = frozenset({"channel_leave", "group_leave"})
SLACKBOT = "USLACKBOT"


class _Source:
    """The export's files, from a zip or a folder, by their path under the export's root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self._days: dict[str, list[str]] | None = None
        if path.is_dir():
            names = [p.relative_to(path).as_posix() for p in path.rglob("*.json")]
            self._sizes = {n: (path / n).stat().st_size for n in names}
        elif path.is_file():
            if not zipfile.is_zipfile(path):
                raise BadInput(f"{path}: not a zip file (give the export's .zip or its folder)")
            try:
                self.zip = zipfile.ZipFile(path)
                infos = [i for i in self.zip.infolist() if i.filename.endswith(".json")]
            except (zipfile.BadZipFile, OSError) as exc:
                raise BadInput(f"{path}: cannot read the zip: {exc}") from exc
            self._sizes = {i.filename: i.file_size for i in infos}
        else:
            raise BadInput(f"{path}: no such file or folder")
        roots = sorted(
            (n for n in self._sizes if PurePosixPath(n).name == "channels.json"),
            key=lambda n: n.count("/"),
        )
        if not roots:
            raise BadInput(f"{path}: not a Slack export (no channels.json)")
        self.root = str(PurePosixPath(roots[0]).parent)
        self.root = "" if self.root == "." else self.root + "/"

    @property
    def total(self) -> int:
        """What the export's JSON files weigh, in bytes."""
        return sum(self._sizes.values())

    def has(self, name: str) -> bool:
        return self.root + name in self._sizes

    def size(self, name: str) -> int:
        return self._sizes.get(self.root + name, 0)

    def read(self, name: str) -> bytes:
        full = self.root + name
        try:
            if self.zip is not None:
                return self.zip.read(full)
            return (self.path / full).read_bytes()
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise BadInput(f"{name}: cannot read it: {exc}") from exc

    def days(self, folder: str) -> list[str]:
        """A conversation's day files, oldest first."""
        if self._days is None:
            self._days = {}
            for n in self._sizes:
                if n.startswith(self.root):
                    parts = n[len(self.root) :].split("/")
                    if len(parts) == 2 and _DAY.fullmatch(parts[1]):
                        self._days.setdefault(parts[0], []).append(n[len(self.root) :])
            for days in self._days.values():
                days.sort()
        return self._days.get(folder, [])

    def folders(self) -> set[str]:
        """The folders that hold day files."""
        self.days("")
        assert self._days is not None
        return set(self._days)


def _json(source: _Source, name: str) -> tuple[Any, bytes]:
    data = source.read(name)
    try:
        return json.loads(data), data
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"{name}: not JSON ({exc})") from exc


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class Export:
    """An export, read as units: the people first, then each channel's days in order."""

    def __init__(self, path: Path | str) -> None:
        self.source = _Source(Path(path))
        self.bots: set[str] = {SLACKBOT}
        self.names: dict[str, str] = {}
        self.channels: dict[str, ChannelRef] = {}
        self.private: set[str] = set()

    @property
    def total(self) -> int:
        """What the export weighs (bytes of JSON), for progress."""
        return self.source.total

    def check(self) -> Iterator[tuple[int, int]]:
        """Read every file once, as `units` would, to find bad input before anything is
        written; without translating messages (a third of the cost). Yields each file's size
        and number of messages, for progress."""
        people = self._people()
        yield people.size, 0
        self._conversations()
        for day, _ in self._days():
            messages, data = _json(self.source, day)
            yield len(data), len(_stamped(day, messages))

    def _days(self) -> list[tuple[str, ChannelRef]]:
        """Every channel's day files, a day at a time across channels: history in the order
        it happened, which the activity indexes take best."""
        found = [
            (PurePosixPath(day).name, folder, day, channel)
            for folder, channel in self.channels.items()
            for day in self.source.days(folder)
        ]
        return [(day, channel) for _, _, day, channel in sorted(found, key=lambda f: f[:2])]

    def units(self) -> Iterator[Unit]:
        yield self._people()
        self._conversations()
        seen = self.source.folders()
        for day, channel in self._days():
            yield self._day(day, channel)
        private = [f for f in self.private if f in seen]
        for folder in sorted(private):
            days = self.source.days(folder)
            unit = Unit(PLATFORM, f"{folder}/", "", size=sum(map(self.source.size, days)))
            unit.skipped["days of direct conversations between members (private)"] += len(days)
            yield unit
        for folder in sorted(seen - set(self.channels) - set(self.private)):
            unit = Unit(PLATFORM, f"{folder}/", "")
            unit.skipped[f"folder {folder}/ is in no channels list"] += 1
            yield unit

    def _people(self) -> Unit:
        if not self.source.has("users.json"):
            return Unit(PLATFORM, "users.json", "")
        users, data = _json(self.source, "users.json")
        if not isinstance(users, list):
            raise BadInput("users.json: not a list of users")
        unit = Unit(PLATFORM, "users.json", _digest(data), size=len(data))
        for n, user in enumerate(users):
            if not isinstance(user, dict) or not isinstance(user.get("id"), str):
                raise BadInput(f"users.json: user {n + 1} has no id")
            profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
            if user.get("is_bot") or user.get("id") == SLACKBOT:
                self.bots.add(user["id"])
                unit.skipped["bot accounts"] += 1
                continue
            name = (
                _text(profile.get("display_name"))
                or _text(profile.get("real_name"))
                or _text(user.get("real_name"))
                or _text(user.get("name"))
            )
            self.names[user["id"]] = name or user["id"]
            unit.profiles.append(
                Profile(
                    UserRef(PLATFORM, user["id"], name),
                    real_name=_text(profile.get("real_name")) or _text(user.get("real_name")),
                    role_title=_text(profile.get("title")),
                    timezone=_text(user.get("tz")),
                    deleted=bool(user.get("deleted")),
                )
            )
        return unit

    def _conversations(self) -> None:
        folders = self.source.folders()
        for listing in ("channels.json", "groups.json"):
            if not self.source.has(listing):
                continue
            found, _ = _json(self.source, listing)
            if not isinstance(found, list):
                raise BadInput(f"{listing}: not a list of channels")
            for n, channel in enumerate(found):
                if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
                    raise BadInput(f"{listing}: channel {n + 1} has no id")
                name = _text(channel.get("name"))
                ref = channel_ref(channel["id"], "channel", f"#{name}" if name else None)
                folder = name if name in folders else channel["id"]
                self.channels[folder] = ref
        for listing in ("mpims.json", "dms.json"):
            if self.source.has(listing):
                found, _ = _json(self.source, listing)
                for chat in found if isinstance(found, list) else []:
                    if isinstance(chat, dict):
                        self.private.update(
                            v for v in (chat.get("name"), chat.get("id")) if isinstance(v, str)
                        )

    def _day(self, name: str, channel: ChannelRef) -> Unit:
        messages, data = _json(self.source, name)
        unit = Unit(PLATFORM, name, _digest(data), channels=[channel], size=len(data))
        for message, ts in _stamped(name, messages):
            unit.events.extend(self._events(unit, message, ts, channel))
        unit.events.sort(key=lambda e: e.ts)
        return unit

    def _events(self, unit: Unit, message: dict, ts: str, channel: ChannelRef) -> list[Event]:
        subtype = message.get("subtype")
        user_id = message.get("user")
        when = parse_ts(ts)
        if subtype in JOINS | LEAVES:
            if not isinstance(user_id, str):
                unit.skipped[f"{subtype} notices without a member"] += 1
                return []
            cls = MemberJoined if subtype in JOINS else MemberLeft
            kind = "join" if subtype in JOINS else "leave"
            user = UserRef(PLATFORM, user_id, self.names.get(user_id))
            return [cls(f"{kind}:{channel.id}:{ts}", user, channel, when)]
        if subtype is not None and subtype not in PERSON_SUBTYPES and subtype != "bot_message":
            unit.skipped[f"{subtype if isinstance(subtype, str) else 'odd'} notices"] += 1
            return []
        if not isinstance(user_id, str) and not message.get("bot_id"):
            unit.skipped["messages without an author"] += 1
            return []
        post = translate_message(message, channel.id)
        if post is None:
            unit.skipped["unreadable messages"] += 1
            return []
        is_bot = post.user.is_bot or post.user.id in self.bots
        user = UserRef(PLATFORM, post.user.id, self.names.get(post.user.id) or post.user.name,
                       is_bot=is_bot)  # fmt: skip
        post = dataclasses.replace(post, user=user, channel=channel)
        found: list[Event] = [post]
        for reaction in message.get("reactions") or ():
            found.extend(self._reactions(reaction, post))
        return found

    def _reactions(self, reaction: Any, post: Message) -> Iterator[ReactionAdded]:
        if not isinstance(reaction, dict) or not isinstance(reaction.get("name"), str):
            return
        name = reaction["name"]
        for user_id in reaction.get("users") or ():
            if not isinstance(user_id, str):
                continue
            yield ReactionAdded(
                reaction_key(post.channel.id, post.message_id, user_id, name),
                UserRef(PLATFORM, user_id, self.names.get(user_id), is_bot=user_id in self.bots),
                post.channel,
                post.ts,
                message_id=post.message_id,
                emoji=name.split("::", 1)[0],
                thread_id=post.thread_id,
            )


def _stamped(name: str, messages: Any) -> list[tuple[dict, str]]:
    """A day file's messages, each with its `ts`; `BadInput` naming the file and the message
    for anything else."""
    if not isinstance(messages, list):
        raise BadInput(f"{name}: not a list of messages")
    found = []
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadInput(f"{name}: message {n + 1} is not an object")
        ts = message.get("ts")
        try:
            if not isinstance(ts, str):
                raise ValueError
            float(ts)
        except ValueError:
            raise BadInput(f"{name}: message {n + 1} has no ts") from None
        found.append((message, ts))
    return found


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
