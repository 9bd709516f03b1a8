"""Platform-neutral references and inbound events.

Adapters translate what their platform delivers into these values; nothing in the core
or the handlers sees a platform's own objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person (or bot) on one platform. `id` is the platform's own user id; `locale` the
    language the platform says they use (Slack's `fr-FR`), where it says one: a member seen
    for the first time starts in it."""

    platform: str
    id: str
    name: str | None = None
    is_bot: bool = False
    locale: str | None = None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UserRef) and other.platform == self.platform and other.id == self.id
        )

    def __hash__(self) -> int:
        return hash((self.platform, self.id))


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A room or channel on one platform; `is_direct` for a one-to-one chat with the bot."""

    platform: str
    id: str
    name: str | None = None
    is_direct: bool = False

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ChannelRef)
            and other.platform == self.platform
            and other.id == self.id
        )

    def __hash__(self) -> int:
        return hash((self.platform, self.id))


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every inbound event. `event_id` is unique per platform and is the dedupe key."""

    event_id: str
    user: UserRef
    channel: ChannelRef
    ts: datetime

    @property
    def platform(self) -> str:
        return self.user.platform


@dataclass(frozen=True, slots=True)
class Message(Event):
    """A posted message. `thread_id` is the root message id when the message is a reply.

    `mentions_bot` is set by the adapter when the message addresses the bot by name, so
    "@convener help" works like "!help".
    """

    text: str = ""
    message_id: str = ""
    thread_id: str | None = None
    mentions_bot: bool = False

    @property
    def is_reply(self) -> bool:
        return self.thread_id is not None and self.thread_id != self.message_id


@dataclass(frozen=True, slots=True)
class SlashCommand(Event):
    """A command typed through a platform's own command mechanism (Slack's `/convener ...`).

    `text` is the command without any prefix, for example `profile city Nairobi`.
    """

    text: str = ""
    reply_token: str | None = None


@dataclass(frozen=True, slots=True)
class Shortcut(Event):
    """One of Convener's actions chosen on a message (Slack's message shortcuts, in a
    message's "More actions" menu): `name` is a shortcut a feature declared
    (`Router.shortcut`), `message` the message it was chosen on as the platform shows it
    (None when it is not one a person or bot posted). `reply_token` answers the presser
    privately, as for a slash command."""

    name: str = ""
    message: Message | None = None
    reply_token: str | None = None


@dataclass(frozen=True, slots=True)
class FormSubmitted(Event):
    """A member sent one of Convener's forms (Slack's modals): `form` is a form a feature
    declared (`Router.form`), `values` each field's value by name as the member gave it (text,
    or a tuple of texts for a multi-select). Handled like the commands the form stands for,
    with the same permission checks; `reply_token` answers the member privately."""

    form: str = ""
    values: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    reply_token: str | None = None


@dataclass(frozen=True, slots=True)
class MemberJoined(Event):
    """Someone joined a channel."""


@dataclass(frozen=True, slots=True)
class MemberLeft(Event):
    """Someone left a channel."""


@dataclass(frozen=True, slots=True)
class HomeOpened(Event):
    """A member opened their own page of Convener in the platform (Slack's Home tab);
    `channel` is their direct chat with the bot. Not something they posted."""


@dataclass(frozen=True, slots=True)
class ReactionAdded(Event):
    """A reaction on a message; `emoji` is a name without colons (`white_check_mark`) or the
    character itself (`✅`), whichever the platform uses."""

    message_id: str = ""
    emoji: str = ""
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """A button that stands for a command: pressing it is the presser typing `command`
    (Slack draws buttons; where a platform has none, the message text already says which
    command to type, so adapters may ignore actions).

    `poll`: the actions so marked form one choice (a member picks one of them, and may change
    it) that a platform may draw as a poll (Matrix); answering it is pressing the button."""

    label: Any  # a catalog message (bot.i18n), rendered in the reader's language
    command: str
    poll: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a member's home (a question, an event), with its buttons."""

    text: Any  # a catalog message
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    """A titled part of a member's home; `empty` is shown when it has no items, `actions`
    are buttons for the whole section (Ask, Edit)."""

    title: Any
    items: tuple[Item, ...] = ()
    actions: tuple[Action, ...] = ()
    empty: Any = None


@dataclass(frozen=True, slots=True)
class Home:
    """A member's own summary: what the `home` command writes as text and Slack's Home tab
    draws as blocks. Platform-neutral; every text is a catalog message until rendered."""

    sections: tuple[Section, ...] = ()


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """A reply in a thread as the platform shows it now: edits applied, deleted ones gone."""

    message_id: str
    user: UserRef
    text: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A file the bot sends."""

    filename: str
    data: bytes
    title: str = ""
    mimetype: str = "application/octet-stream"


@dataclass(slots=True)
class Sent:
    """What a platform did with an outbound message: where it went and its id there."""

    channel: ChannelRef
    message_id: str
    text: str = ""
    thread_id: str | None = None
    private_to: UserRef | None = None
    file: OutboundFile | None = None
    extra: dict = field(default_factory=dict)


class FieldKind(StrEnum):
    """What a form's field takes, for the platform to draw it."""

    SHORT = "short"  # a line of text
    LONG = "long"  # a paragraph
    SELECT = "select"  # one of its choices
    MULTI = "multi"  # some of its choices
    MULTI_NEW = "multi_new"  # some of its choices, and new values typed in a second box
    DATE = "date"  # YYYY-MM-DD
    TIME = "time"  # HH:MM
    ZONE = "zone"  # a time zone, one of its choices
    LANGUAGE = "language"  # a language Convener speaks, one of its choices


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a form as its reader sees it, every text in their language: `choices`
    are (value, label) pairs, `initial` what it starts with (a tuple for a multi-select),
    `other` the label of the box for new values (`MULTI_NEW`), `limit` the most characters
    a text takes (0: no limit of its own)."""

    name: str
    kind: FieldKind
    label: str
    hint: str = ""
    optional: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    initial: str | tuple[str, ...] | None = None
    other: str = ""
    limit: int = 0


@dataclass(frozen=True, slots=True)
class FormView:
    """A form ready to draw (Slack's modal), in its reader's language and prefilled."""

    name: str
    title: str
    submit: str
    fields: tuple[FormField, ...] = ()
