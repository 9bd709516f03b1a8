"""Native polls on Matrix (MSC3381): the actions of a post that form one choice
(`Action.poll`) follow the notice as a poll; a member's answer is the command it stands for,
typed by them (as a click on a Slack button); `close_choices` ends the poll.

The shapes are those Element sends (matrix-js-sdk 37, src/extensible_events_v1/
PollStartEvent.ts, PollResponseEvent.ts, PollEndEvent.ts, and src/@types/polls.ts: the
unstable `org.matrix.msc3381.*` types and blocks, text as `org.matrix.msc1767.text`), with the
stable blocks of MSC3381 beside them (`m.poll`, `m.text`; proposals/3381-polls.md in
matrix-org/matrix-spec-proposals). Answer ids are the commands; a poll's answers and room are
kept in the adapter's state (`poll:<poll id>`, and `poll-of:<notice id>` for closing it), so
an answer counts only when it is one of the answers of a poll Convener sent in that room, and
a poll can be ended after a restart or from another replica.

A mixin of `MatrixAdapter`, through `OutboundMixin` (whose `_send` it uses; the state is
`MatrixAdapter`'s); the sync hands poll responses to `_poll_answer`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from adapters.matrix import events
from adapters.matrix.common import for_log, log
from bot.normalise import Malformed
from bot.types import Action, ChannelRef, SlashCommand

START = "org.matrix.msc3381.poll.start"
RESPONSE = "org.matrix.msc3381.poll.response"
END = "org.matrix.msc3381.poll.end"
RESPONSES = frozenset({RESPONSE, "m.poll.response"})
TEXT = "org.matrix.msc1767.text"
DISCLOSED = "org.matrix.msc3381.poll.disclosed"
MAX_ANSWERS = 20  # clients show no more (MSC3381)
MAX_KEY = 255  # of the state table's keys
_MARKUP = re.compile(r"\*\*|`")


class Unreadable(Exception):
    """A poll's record could not be read (the database is away): the batch holding the
    answer is synced again rather than the answer lost."""


def choice(actions: Sequence[Action]) -> list[Action]:
    """The actions that form one choice (at most what a poll shows)."""
    return [a for a in actions if a.poll][:MAX_ANSWERS]


def question_of(text: str) -> str:
    """A poll's question: the notice's first line, without its Markdown."""
    first = text.strip().split("\n", 1)[0]
    return _MARKUP.sub("", first).strip()


def start_content(question: str, answers: Sequence[Action]) -> dict[str, Any]:
    """An `org.matrix.msc3381.poll.start` as Element sends one (a disclosed poll, one answer
    each), with MSC3381's stable `m.poll` and `m.text` blocks beside it."""
    fallback = "\n".join([question, *(f"{n}. {a.label}" for n, a in enumerate(answers, 1))])
    return {
        TEXT: fallback,
        START: {
            "question": {TEXT: question, "body": question, "msgtype": "m.text"},
            "kind": DISCLOSED,
            "max_selections": 1,
            "answers": [{"id": a.command, TEXT: str(a.label)} for a in answers],
        },
        "m.text": [{"mimetype": "text/plain", "body": fallback}],
        "m.poll": {
            "kind": "m.disclosed",
            "max_selections": 1,
            "question": {"m.text": [{"body": question}]},
            "answers": [{"m.id": a.command, "m.text": [{"body": str(a.label)}]} for a in answers],
        },
    }


def end_content(poll_id: str, question: str) -> dict[str, Any]:
    """An `org.matrix.msc3381.poll.end` of `poll_id` (its text fallback is the question,
    marked closed: no words to translate), with the stable `m.text` beside it."""
    text = f"🔒 {question}"
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
        END: {},
        TEXT: text,
        "body": text,
        "msgtype": "m.text",
        "m.text": [{"body": text}],
    }


def is_response(raw: Any) -> bool:
    source = getattr(raw, "source", None)
    return isinstance(source, dict) and source.get("type") in RESPONSES


def selection(content: dict) -> tuple[str, list[str]] | None:
    """(poll event id, answer ids) of a poll response's content; None when it refers to no
    event. The answers are [] when they are missing or malformed (a spoiled vote)."""
    relates_to = content.get("m.relates_to")
    if not isinstance(relates_to, dict) or relates_to.get("rel_type") != "m.reference":
        return None
    poll_id = relates_to.get("event_id")
    if not isinstance(poll_id, str) or not poll_id:
        return None
    answers: Any = None
    for key in (RESPONSE, "m.poll.response"):
        block = content.get(key)
        if isinstance(block, dict):
            answers = block.get("answers")
            break
    else:
        answers = content.get("m.selections")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        return poll_id, []
    return poll_id, answers


def state_key(prefix: str, event_id: str) -> str:
    """`prefix` + the event id, hashed when that would not fit the state table."""
    key = prefix + event_id
    if len(key) <= MAX_KEY:
        return key
    return prefix + "#" + hashlib.sha256(event_id.encode()).hexdigest()


class PollsMixin:
    async def _start_poll(
        self, room_id: str, notice_id: str, text: str, answers: list[Action]
    ) -> None:
        """Send the poll that follows a notice and remember it. A failure is logged: the
        notice went, and its text says which command to type."""
        question = question_of(text)
        try:
            poll_id = await self._send(room_id, start_content(question, answers), START)
            record = {
                "room": room_id,
                "notice": notice_id,
                "question": question,
                "answers": [a.command for a in answers],
            }
            await self._put(**{
                state_key("poll:", poll_id): json.dumps(record),
                state_key("poll-of:", notice_id): poll_id,
            })  # fmt: skip
        except Exception as exc:
            log.warning("Matrix: no poll for %s in %s (%s: %s)", notice_id, room_id,
                        type(exc).__name__, str(exc)[:200])  # fmt: skip

    async def _poll(self, poll_id: str) -> dict | None:
        try:
            stored = await self._get(state_key("poll:", poll_id))
        except Exception as exc:
            raise Unreadable(f"the record of poll {for_log(poll_id)}: {exc!r}") from exc
        try:
            record = json.loads(stored or "null")
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    async def close_choices(self, channel: ChannelRef, message_id: str) -> None:
        """End the poll that followed the notice `message_id`, if one did."""
        poll_id = await self._get(state_key("poll-of:", message_id)) if message_id else None
        record = await self._poll(poll_id) if poll_id else None
        if poll_id is None or record is None:
            return
        question = record.get("question")
        content = end_content(poll_id, question if isinstance(question, str) else "")
        await self._send(str(record.get("room") or channel.id), content, END)

    async def _poll_answer(self, room_id: str, room: Any, raw: Any) -> SlashCommand | None:
        """A member's poll response as the command its answer stands for, typed by them; None
        for a response to a poll that is not Convener's (or in another room), an answer that
        is not one of the poll's, or no answer (a member taking their vote back: nothing to
        undo)."""
        source = raw.source
        try:
            event_id = events.required_id(source, "event_id")
            sender = events.required_id(source, "sender")
            ts = events.when(source.get("origin_server_ts"))
        except Malformed as exc:
            log.warning("dropped a malformed Matrix poll response in %s: %s", room_id, exc)
            return None
        if sender == self.settings.matrix_user_id:
            return None
        content = source.get("content")
        chosen = selection(content) if isinstance(content, dict) else None
        if chosen is None:
            return None
        poll_id, answers = chosen
        record = await self._poll(poll_id)
        if record is None or record.get("room") != room_id:
            return None
        allowed = record.get("answers")
        answer = answers[0] if answers else None  # max_selections is 1: the rest is cut
        if answer is None or not isinstance(allowed, list) or answer not in allowed:
            log.info("Matrix: poll response %s in %s chose no answer of the poll",
                     for_log(event_id), room_id)  # fmt: skip
            return None
        user = self._user(room, sender)
        return SlashCommand(event_id, user, self._room(room_id, room), ts, text=answer)
