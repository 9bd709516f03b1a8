"""A Slack workspace export in the shapes Slack writes, for the import's tests.

Shapes taken from Slack's own descriptions, not from our reader:
- the layout and the files (`users.json`, `channels.json`, `dms.json`, one folder per
  conversation with a `YYYY-MM-DD.json` list of messages per day): "How to read Slack data
  exports", https://slack.com/help/articles/220556107;
- the message objects (`ts`, `user`, `text`, `thread_ts`, `reply_count`, `replies`,
  `reactions` with `name`/`users`/`count`, `edited`, `files`, `bot_id`, `user_profile`,
  subtypes `channel_join`, `channel_leave`, `channel_topic`, `bot_message`, `file_share`):
  https://api.slack.com/events/message and its subtype pages, and the `user` object
  (`profile.display_name`, `real_name`, `title`, `tz`, `deleted`, `is_bot`):
  https://api.slack.com/types/user. tests/fixtures/slack holds the Events API samples the
  live adapter is tested with; the same message in both is keyed alike.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

USERS = [
    {
        "id": "U01AMINA", "team_id": "T01", "name": "amina", "deleted": False,
        "real_name": "Amina Wanjiru", "tz": "Africa/Nairobi", "tz_offset": 10800,
        "is_bot": False,
        "profile": {"title": "Budget analyst, Nairobi City County", "real_name": "Amina Wanjiru",
                    "display_name": "Amina", "real_name_normalized": "Amina Wanjiru",
                    "display_name_normalized": "Amina"},
    },
    {
        "id": "U02JAEWON", "team_id": "T01", "name": "jaewon", "deleted": False,
        "real_name": "박재원", "tz": "Asia/Seoul", "is_bot": False,
        "profile": {"title": "", "real_name": "박재원", "display_name": ""},
    },
    {
        "id": "U03MARIA", "team_id": "T01", "name": "maria.jose", "deleted": False,
        "real_name": "María José Peña", "tz": "America/Mexico_City", "is_bot": False,
        "profile": {"title": "Tesorería", "real_name": "María José Peña",
                    "display_name": "María José"},
    },
    {
        "id": "U04GONE", "team_id": "T01", "name": "former", "deleted": True,
        "profile": {"real_name": "Olu Bankole", "display_name": "Olu"},
    },
    {
        "id": "U05BOT", "team_id": "T01", "name": "standupbot", "deleted": False,
        "is_bot": True, "profile": {"real_name": "Standup", "bot_id": "B05BOT"},
    },
    {"id": "USLACKBOT", "team_id": "T01", "name": "slackbot", "deleted": False,
     "is_bot": False, "profile": {"real_name": "Slackbot", "display_name": "Slackbot"}},
]  # fmt: skip

CHANNELS = [
    {"id": "C01GENERAL", "name": "general", "created": 1704067200, "creator": "U01AMINA",
     "is_archived": False, "is_general": True, "members": ["U01AMINA", "U02JAEWON"],
     "topic": {"value": "", "creator": "", "last_set": 0},
     "purpose": {"value": "Everyone", "creator": "", "last_set": 0}},
    {"id": "C02BUDGET", "name": "budget-forecasting", "created": 1704067200,
     "creator": "U01AMINA", "is_archived": False, "is_general": False,
     "members": ["U02JAEWON"]},
]  # fmt: skip

QUESTION_TS = "1709546400.000100"  # 2024-03-04 10:00 UTC


def general_day_one() -> list[dict]:
    return [
        {"type": "message", "subtype": "channel_join", "ts": "1709542800.000100",
         "user": "U01AMINA", "text": "<@U01AMINA> has joined the channel"},
        {"type": "message", "subtype": "channel_join", "ts": "1709542860.000200",
         "user": "U02JAEWON", "text": "<@U02JAEWON> has joined the channel"},
        {"type": "message", "subtype": "channel_topic", "ts": "1709543000.000100",
         "user": "U01AMINA", "topic": "Forecasting",
         "text": "<@U01AMINA> set the channel topic: Forecasting"},
        {"client_msg_id": "7b1c", "type": "message", "ts": QUESTION_TS, "user": "U01AMINA",
         "text": "How do you forecast property tax revenue when valuations lag?",
         "team": "T01", "thread_ts": QUESTION_TS, "reply_count": 3, "reply_users_count": 2,
         "latest_reply": "1709629200.000300",
         "reply_users": ["U02JAEWON", "U03MARIA"],
         "replies": [{"user": "U02JAEWON", "ts": "1709547000.000200"},
                     {"user": "U03MARIA", "ts": "1709550000.000300"},
                     {"user": "U01AMINA", "ts": "1709629200.000300"}],
         "user_profile": {"display_name": "Amina", "real_name": "Amina Wanjiru",
                          "name": "amina"},
         "reactions": [{"name": "white_check_mark", "users": ["U01AMINA"], "count": 1},
                       {"name": "+1::skin-tone-4", "users": ["U02JAEWON", "U03MARIA"],
                        "count": 2},
                       {"name": "eyes", "users": ["U05BOT"], "count": 1}]},
        {"client_msg_id": "8c2d", "type": "message", "ts": "1709547000.000200",
         "user": "U02JAEWON", "text": "We index last year's roll by the assessor's trend.",
         "thread_ts": QUESTION_TS, "parent_user_id": "U01AMINA"},
        {"type": "message", "subtype": "bot_message", "ts": "1709548000.000100",
         "bot_id": "B05BOT", "username": "standupbot", "text": "Daily standup!"},
        {"type": "message", "subtype": "thread_broadcast", "ts": "1709550000.000300",
         "user": "U03MARIA", "thread_ts": QUESTION_TS, "parent_user_id": "U01AMINA",
         "text": "Nosotros usamos una regresión con datos catastrales.",
         "root": {"ts": QUESTION_TS, "user": "U01AMINA"}},
        {"type": "message", "ts": "1709551000.000100", "user": "U03MARIA",
         "text": "Our template :point_down:", "upload": True, "display_as_bot": False,
         "files": [{"id": "F01", "name": "forecast.xlsx", "title": "forecast.xlsx",
                    "mimetype": "application/vnd.ms-excel", "filetype": "xlsx"}]},
        {"type": "message", "ts": "1709552000.000100", "user": "U02JAEWON",
         "text": "Workshop notes are up (fixed the link)",
         "edited": {"user": "U02JAEWON", "ts": "1709552100.000000"}},
    ]  # fmt: skip


def general_day_two() -> list[dict]:
    return [
        {"type": "message", "ts": "1709629200.000300", "user": "U01AMINA",
         "text": "Thanks, that helps a lot!", "thread_ts": QUESTION_TS,
         "parent_user_id": "U01AMINA"},
        {"type": "message", "ts": "1709630000.000100", "user": "U04GONE",
         "text": "Sharing our 2023 budget book."},
        {"type": "message", "subtype": "channel_leave", "ts": "1709640000.000100",
         "user": "U02JAEWON", "text": "<@U02JAEWON> has left the channel"},
    ]  # fmt: skip


def budget_day() -> list[dict]:
    return [
        {
            "type": "message",
            "ts": "1709636400.000100",
            "user": "U02JAEWON",
            "text": "안녕하세요 — hello from Seoul",
        },
    ]


def write(root: Path, *, zipped: bool = False) -> Path:
    """Write the export under `root` (a folder, or `root/export.zip`); its path."""
    files = {
        "users.json": USERS,
        "channels.json": CHANNELS,
        "dms.json": [
            {"id": "D01PRIVATE", "created": 1704067200, "members": ["U01AMINA", "U02JAEWON"]}
        ],
        "general/2024-03-04.json": general_day_one(),
        "general/2024-03-05.json": general_day_two(),
        "budget-forecasting/2024-03-05.json": budget_day(),
        "D01PRIVATE/2024-03-04.json": [
            {"type": "message", "ts": "1709546500.000100", "user": "U01AMINA", "text": "hi"}
        ],
    }
    return write_files(root, files, zipped=zipped)


def write_files(root: Path, files: dict[str, object], *, zipped: bool = False) -> Path:
    if zipped:
        path = root / "export.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                data = content if isinstance(content, bytes) else json.dumps(content, indent=4)
                archive.writestr(name, data)
        return path
    folder = root / "export"
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(json.dumps(content, indent=4, ensure_ascii=False))
    return folder
