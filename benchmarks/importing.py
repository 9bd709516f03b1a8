"""Import: `convener import slack <folder>` of a synthetic Slack export, against `json.load`
of the same files alone (no database), and the import's peak memory as the export grows.

The export has the layout and the shapes Slack writes (https://slack.com/help/articles/220556107;
those of tests/slack_export.py): `users.json` (3,000 people, three bots, Slackbot),
`channels.json` (20 channels), one folder per channel with a `YYYY-MM-DD.json` list of the
day's messages, 100-500 a channel a day, as modern exports hold them (`client_msg_id`,
`blocks`, `user_profile`; one message a line, where Slack indents). About one message in five
is a thread reply (`thread_ts`; the root carries `reply_count`, `replies`...), one in a
hundred a bot's post; some carry `reactions`, `files` or `edited`; each channel has a few
`channel_join` notices a day. Some roots are questions: others answer in the thread, and the
asker often reacts with a check mark or says thanks, so the import finds library candidates.
The generator writes a day file at a time and holds only that day's messages.

Each size is imported by `bot.cli.main(["import", "slack", folder])` in a process of its own,
as `convener import slack` runs: a check pass that reads every file, then the import, one
transaction a file. The command alone is timed (not the interpreter's start); the peak memory
is that process's. Then the database must hold exactly the rows the generator wrote, by kind
(messages, replies, reactions, joins; bots' posts left out), and the library candidates it
meant, or the benchmark fails.

Rates are activity rows a second: the import's rows over its time, against the same rows over
the time `json.load` takes to parse every file of the export; the ratio is the baseline's
time over the import's.

Sizes: 100,000 and 1,000,000 messages into SQLite (`BENCH_IMPORT_SIZES`) and, with
`CONVENER_TEST_DATABASE_URL` set, 100,000 into PostgreSQL (`BENCH_IMPORT_PG_SIZES`: both
sizes do not fit the runner's 15 minutes on two cores). Quick mode: 5,000 and 20,000
messages from 500 people (`BENCH_IMPORT_PEOPLE`); 5,000 into PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.common import (
    Result,
    drop_postgres,
    emit,
    fresh_postgres,
    fresh_sqlite,
    median,
    peak_rss_mb,
    postgres_server,
    quick,
    runs,
)


def sizes(variable: str, default: str) -> list[int]:
    found = os.environ.get(variable) or default
    return sorted(int(n.strip().replace("_", "")) for n in found.split(","))


SIZES = sizes("BENCH_IMPORT_SIZES", "5000,20000" if quick() else "100000,1000000")
PG_SIZES = sizes("BENCH_IMPORT_PG_SIZES", str(SIZES[0]))
PEOPLE = int(os.environ.get("BENCH_IMPORT_PEOPLE") or (500 if quick() else 3000))
CHANNELS, TEAM = 20, "T01CONVENE"
GROWTH = 1.3  # the largest export's peak memory over the smallest's, at most

CHANNEL_NAMES = (
    "general", "random", "introductions", "budget-forecasting", "property-tax", "procurement",
    "debt-management", "audit", "revenue-collection", "pensions", "payroll", "grants",
    "climate-finance", "open-data", "training", "events", "jobs", "help", "francophone",
    "lusofonia",
)  # fmt: skip
ZONES = (
    "Africa/Nairobi", "Africa/Lagos", "Africa/Johannesburg", "Europe/Paris", "Europe/Lisbon",
    "America/Mexico_City", "America/Bogota", "America/Sao_Paulo", "Asia/Manila",
    "Asia/Kolkata", "America/New_York",
)  # fmt: skip
FIRST = (
    "Amina", "Jae-won", "María José", "Olu", "Chidi", "Ana", "Thabo", "Priya", "Luis", "Fatou",
    "Nguyễn", "Sofia", "Kwame", "Élodie", "João", "Grace", "Ahmed", "Mei",
)  # fmt: skip
LAST = (
    "Wanjiru", "Park", "Peña", "Bankole", "Okafor", "Silva", "Nkosi", "Sharma", "Gómez", "Diop",
    "Thị Lan", "Rossi", "Mensah", "Dubois", "Costa", "Achieng", "Haddad", "Lin",
)  # fmt: skip
TITLES = ("Budget analyst", "Treasurer", "Chief finance officer", "Revenue officer",
          "Procurement lead", "Internal auditor", "", "Debt manager", "Accountant")  # fmt: skip
QUESTIONS = (
    "How do you forecast property tax revenue when valuations lag behind the market?",
    "What share of your capital budget goes to maintenance rather than new assets?",
    "Has anyone moved payroll to a shared service with another city?",
    "Which indicators do you report to council every quarter?",
    "Does your city publish procurement contracts as open data, and in what format?",
    "¿Cómo manejan la actualización del catastro cada año?",
    "Comment avez-vous mis en place le budget participatif ?",
    "Como vocês calculam a provisão para devedores duvidosos?",
    "Can a municipality issue green bonds without a national guarantee?",
    "Who has a template for a medium-term revenue framework?",
)
STATEMENTS = (
    "We moved our procurement to e-tendering last year and the bids doubled.",
    "Sharing our 2023 budget book, page 40 has the revenue model.",
    "Reminder: the peer exchange on arrears collection starts at 14:00 UTC.",
    "Our council approved the new rates policy this morning :tada:",
    "Notes from the workshop are in the shared folder <https://example.org/notes|here>.",
    "Nous avons publié le rapport annuel des finances locales.",
    "Publicamos los datos de ejecución presupuestaria en el portal abierto.",
    "Terminamos a migração do sistema contábil em março.",
    "Great session yesterday, the slides are pinned in the channel.",
    "The treasury circular on cash pooling came out today.",
    "Welcome to the new members from Kisumu and Accra!",
    "Budget hearings wrap up next week; I will post the summary after.",
)
ANSWERS = (
    "We index last year's roll by the assessor's trend and correct it mid-year.",
    "About 30 percent here, ring-fenced by council resolution.",
    "Yes, with two neighbouring towns; the savings were smaller than promised.",
    "Collection rate, arrears by age, and cash cover in months.",
    "Nosotros usamos una regresión con datos catastrales del último trimestre.",
    "Nous passons par un appel à projets dans chaque quartier.",
    "Usamos a média de inadimplência dos últimos cinco anos.",
    "It needs the treasury's approval but no guarantee in our case.",
    "I can share ours, sending it in a DM <@U0000001A>.",
)
THANKS = (
    "Thanks, that helps a lot!",
    "Merci, c'est très clair.",
    "Gracias, justo lo que necesitaba.",
    "Obrigada, ajudou muito!",
    "Thank you all, solved.",
)
EMOJI = ("+1", "heart", "eyes", "raised_hands", "+1::skin-tone-4", "tada", "pray", "100")
BOTS = (("B01STANDUP", "U0BOT0001", "standup"), ("B02POLLY", "U0BOT0002", "polly"),
        ("B03RSS", "U0BOT0003", "rss-feed"))  # fmt: skip
BOT_POSTS = ("Daily standup! What are you working on today?", "New poll: which topic next?",
             "New post on the municipal finance blog")  # fmt: skip


def first_day(messages: int) -> date:
    """The export ends about a week ago, well inside the retention period."""
    return datetime.now(UTC).date() - timedelta(days=messages // (CHANNELS * 300) + 7)


def user_id(n: int) -> str:
    return f"U{n + 1:07d}A"


@dataclass
class Written:
    """What the generator wrote: message objects that are posts (people's and bots'), the
    activity rows the import must make by kind, the library candidates, files and bytes."""

    messages: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    candidates: int = 0
    files: int = 0
    bytes: int = 0
    days: int = 0


class Generator:
    """A synthetic Slack export of `messages` posts, written one day file at a time."""

    def __init__(self, root: Path, messages: int, seed: int = 29) -> None:
        self.root, self.target, self.rnd = root, messages, random.Random(seed)
        self.written = Written()
        self.channels = [(f"C{n + 1:08d}", name) for n, name in enumerate(CHANNEL_NAMES)]
        self.profiles: list[dict] = []
        self.joined: set[tuple[int, int]] = set()

    def write(self) -> Written:
        self.root.mkdir(parents=True)
        self._dump("users.json", self._users())
        self._dump("channels.json", [
            {"id": cid, "name": name, "created": 1672531200, "creator": user_id(0),
             "is_archived": False, "is_general": name == "general", "members": [],
             "topic": {"value": "", "creator": "", "last_set": 0},
             "purpose": {"value": f"Talk about {name}", "creator": user_id(0),
                         "last_set": 1672531200}}
            for cid, name in self.channels
        ])  # fmt: skip
        day = first_day(self.target)
        while self.written.messages < self.target:
            for channel in range(CHANNELS):
                left = self.target - self.written.messages
                if left <= 0:
                    break
                self._day(day, channel, min(self.rnd.randint(100, 500), left))
            day += timedelta(days=1)
            self.written.days += 1
        return self.written

    def _dump(self, name: str, content: list[dict]) -> None:
        """A JSON list, one object a line: Slack indents by four spaces, which Python 3.11
        writes with its pure-Python encoder, three times slower (the same JSON otherwise)."""
        path = self.root / name
        path.parent.mkdir(exist_ok=True)
        lines = ",\n".join(json.dumps(item, ensure_ascii=False) for item in content)
        data = f"[\n{lines}\n]\n".encode()
        path.write_bytes(data)
        self.written.files += 1
        self.written.bytes += len(data)

    def _users(self) -> list[dict]:
        rnd, users = self.rnd, []
        for n in range(PEOPLE):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            real, handle = f"{first} {last}", f"{first}.{last}{n}".lower().replace(" ", "")
            display = first if rnd.random() < 0.7 else ""
            avatar = f"{n:012x}"
            profile = {
                "title": rnd.choice(TITLES), "phone": "", "skype": "", "real_name": real,
                "real_name_normalized": real, "display_name": display,
                "display_name_normalized": display, "status_text": "", "status_emoji": "",
                "avatar_hash": avatar, "first_name": first, "last_name": last,
                "image_72": f"https://avatars.slack-edge.com/{avatar}_72.png", "team": TEAM,
            }  # fmt: skip
            users.append({
                "id": user_id(n), "team_id": TEAM, "name": handle,
                "deleted": rnd.random() < 0.02, "color": "9f69e7", "real_name": real,
                "tz": rnd.choice(ZONES), "tz_label": "", "tz_offset": 0, "profile": profile,
                "is_admin": n < 3, "is_owner": n == 0, "is_primary_owner": n == 0,
                "is_restricted": False, "is_ultra_restricted": False, "is_bot": False,
                "is_app_user": False, "updated": 1672531200,
            })  # fmt: skip
            self.profiles.append({
                "avatar_hash": avatar, "image_72": profile["image_72"], "first_name": first,
                "real_name": real, "display_name": display, "team": TEAM, "name": handle,
                "is_restricted": False, "is_ultra_restricted": False,
            })  # fmt: skip
        for bot_id, uid, name in BOTS:
            users.append({
                "id": uid, "team_id": TEAM, "name": name, "deleted": False, "is_bot": True,
                "is_app_user": False, "updated": 1672531200,
                "profile": {"real_name": name, "bot_id": bot_id, "team": TEAM},
            })  # fmt: skip
        users.append({"id": "USLACKBOT", "team_id": TEAM, "name": "slackbot", "deleted": False,
                      "is_bot": False, "profile": {"real_name": "Slackbot",
                                                   "display_name": "Slackbot"}})  # fmt: skip
        return users

    def _post(self, ts: str, who: int, text: str) -> dict:
        rnd = self.rnd
        post = {
            "client_msg_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "type": "message", "text": text, "user": user_id(who), "ts": ts,
            "blocks": [{"type": "rich_text", "block_id": f"{rnd.getrandbits(24):06x}",
                        "elements": [{"type": "rich_text_section",
                                      "elements": [{"type": "text", "text": text}]}]}],
            "team": TEAM, "user_team": TEAM, "source_team": TEAM,
            "user_profile": self.profiles[who],
        }  # fmt: skip
        if rnd.random() < 0.03:
            post["edited"] = {"user": user_id(who), "ts": f"{float(ts) + 60:.6f}"}
        if rnd.random() < 0.02:
            post["files"] = [{
                "id": f"F{rnd.getrandbits(32):08X}", "name": "budget.xlsx",
                "title": "budget.xlsx", "mimetype": "application/vnd.ms-excel",
                "filetype": "xlsx", "size": rnd.randint(10_000, 900_000),
            }]  # fmt: skip
            post["upload"] = True
        return post

    def _day(self, day: date, channel: int, count: int) -> None:
        """One channel's day: `count` posts (roots, replies, a bot's now and then) and a few
        join notices, in time order."""
        rnd, written = self.rnd, self.written
        joins = rnd.randint(0, 3)
        slots = count + joins
        start = datetime.combine(day, datetime.min.time(), UTC).timestamp() + 3600
        step = 20 * 3600 / slots
        join_at = set(rnd.sample(range(slots), joins))
        messages: list[dict] = []
        roots: list[dict] = []  # this day's roots, the latest last
        threads: dict[str, dict] = {}  # a question root's ts -> what it has had
        for slot in range(slots):
            ts = f"{start + slot * step + rnd.random() * step / 2:.6f}"
            if slot in join_at:
                who = rnd.randrange(PEOPLE)
                if (who, channel) in self.joined:
                    who = next((p for p in range(PEOPLE) if (p, channel) not in self.joined), None)
                if who is not None:
                    self.joined.add((who, channel))
                    member = user_id(who)
                    messages.append({
                        "type": "message", "subtype": "channel_join", "ts": ts, "user": member,
                        "text": f"<@{member}> has joined the channel",
                    })  # fmt: skip
                    written.rows["join"] += 1
                continue
            written.messages += 1
            roll = rnd.random()
            if roll < 0.01:
                bot_id, _, name = rnd.choice(BOTS)
                post = {"type": "message", "subtype": "bot_message", "text": rnd.choice(BOT_POSTS),
                        "ts": ts, "username": name, "bot_id": bot_id}  # fmt: skip
            elif roll < 0.21 and roots:
                post = self._reply(ts, roots, threads)
                written.rows["reply"] += 1
            else:
                who = rnd.randrange(PEOPLE)
                question = rnd.random() < 0.15
                post = self._post(ts, who, rnd.choice(QUESTIONS if question else STATEMENTS))
                roots.append(post)
                del roots[:-30]
                if question:
                    threads[ts] = {"root": post, "asker": who, "answered": False,
                                   "marked": False}  # fmt: skip
                written.rows["message"] += 1
            self._react(post)
            messages.append(post)
        for thread in threads.values():
            if thread["answered"] and not thread["marked"] and rnd.random() < 0.4:
                root = thread["root"]
                root.setdefault("reactions", []).append(
                    {"name": "white_check_mark", "users": [root["user"]], "count": 1}
                )
                written.rows["reaction"] += 1
                thread["marked"] = True
            written.candidates += thread["answered"] and thread["marked"]
        _, name = self.channels[channel]
        self._dump(f"{name}/{day.isoformat()}.json", messages)

    def _reply(self, ts: str, roots: list[dict], threads: dict[str, dict]) -> dict:
        """A reply in one of the day's threads; questions draw most of them, and an asker
        whose question has an answer may say thanks."""
        rnd = self.rnd
        open_questions = [r for r in roots if r["ts"] in threads]
        if open_questions and rnd.random() < 0.7:
            root = rnd.choice(open_questions)
        else:
            root = rnd.choice(roots)
        thread = threads.get(root["ts"])
        if thread and thread["answered"] and not thread["marked"] and rnd.random() < 0.3:
            who, text = thread["asker"], rnd.choice(THANKS)
            thread["marked"] = True
        else:
            who = rnd.randrange(PEOPLE)
            author = int(root["user"][1:-1]) - 1
            if who == author:
                who = (who + 1) % PEOPLE
            text = rnd.choice(ANSWERS)
            if thread:
                thread["answered"] = True
        reply = self._post(ts, who, text)
        reply["thread_ts"] = root["ts"]
        reply["parent_user_id"] = root["user"]
        root["thread_ts"] = root["ts"]
        root["reply_count"] = root.get("reply_count", 0) + 1
        users = root.setdefault("reply_users", [])
        if reply["user"] not in users:
            users.append(reply["user"])
        root["reply_users_count"] = len(users)
        root["latest_reply"] = ts
        root.setdefault("replies", []).append({"user": reply["user"], "ts": ts})
        root["is_locked"], root["subscribed"] = False, False
        return reply

    def _react(self, post: dict) -> None:
        rnd = self.rnd
        if rnd.random() >= 0.12:
            return
        reactions = []
        for name in rnd.sample(EMOJI, rnd.randint(1, 2)):
            users = [user_id(p) for p in rnd.sample(range(PEOPLE), rnd.randint(1, 4))]
            reactions.append({"name": name, "users": users, "count": len(users)})
            self.written.rows["reaction"] += len(users)
        post["reactions"] = reactions


def json_load_seconds(root: Path) -> float:
    """The baseline: `json.load` of every file of the export, nothing else."""
    files = sorted(root.rglob("*.json"))
    started = time.perf_counter()
    for path in files:
        with path.open("rb") as f:
            json.load(f)
    return time.perf_counter() - started


def import_in_child(root: Path, url: str) -> dict:
    """`convener import slack <root>` in a process of its own: its time and peak memory."""
    env = dict(os.environ, CONVENER_DATABASE_URL=url, CONVENER_STORE_MESSAGE_TEXT="false",
               CONVENER_LOG_LEVEL="WARNING")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.importing", "--import", str(root)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the import failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_import(root: str) -> dict:
    """In the child: the command, timed, as a person runs it."""
    import contextlib
    import io

    from bot.cli import main

    said = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(said):
        code = main(["import", "slack", root])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"convener import slack: exit status {code}\n{said.getvalue()}")
    return {"seconds": seconds, "peak_mb": peak_rss_mb()}


def stored(url: str) -> tuple[Counter[str], int]:
    """Activity rows by kind, and library candidates, in the database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from bot.db import sync_url

    engine = create_engine(sync_url(url), poolclass=NullPool)
    with engine.connect() as conn:
        kinds = Counter(
            dict(conn.execute(text("SELECT kind, count(*) FROM activity GROUP BY kind")).all())
        )
        candidates = conn.execute(text("SELECT count(*) FROM library_candidates")).scalar_one()
    engine.dispose()
    return kinds, candidates


def check(url: str, written: Written, size: int) -> int:
    """The rows the generator meant, exactly; their number."""
    kinds, candidates = stored(url)
    if kinds != written.rows or candidates != written.candidates:
        raise RuntimeError(
            f"{size:,} messages: the database holds {dict(kinds)} and {candidates} library "
            f"candidates; the export meant {dict(written.rows)} and {written.candidates}"
        )
    return sum(kinds.values())


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    rows: int


def measure(database: str, root: Path, written: Written, size: int) -> Measured:
    """The import into a fresh database, checked, median of the runs."""
    seconds, peaks, rows = [], [], 0
    for i in range(runs(1)):
        if database == "SQLite":
            url, path = fresh_sqlite(f"import-{size}-{i}")
            try:
                found = import_in_child(root, url)
                rows = check(url, written, size)
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            url = fresh_postgres(f"import{size}")
            try:
                found = import_in_child(root, url)
                rows = check(url, written, size)
            finally:
                drop_postgres(url)
        seconds.append(found["seconds"])
        peaks.append(found["peak_mb"])
    return Measured(median(seconds), max(peaks), rows)


def main() -> None:
    wanted = {"SQLite": SIZES, "PostgreSQL": PG_SIZES if postgres_server() else []}
    results: list[Result] = []
    peaks: dict[str, dict[int, float]] = {db: {} for db in wanted}
    with tempfile.TemporaryDirectory(prefix="convener-import-bench-") as tmp:
        for size in sorted(set(SIZES) | set(wanted["PostgreSQL"])):
            root = Path(tmp) / f"export-{size}"
            started = time.perf_counter()
            written = Generator(root, size).write()
            made = time.perf_counter() - started
            print(f"{size:,} messages: {written.files:,} files, {written.bytes / 1e6:,.0f} MB, "
                  f"{written.days} days, {sum(written.rows.values()):,} rows, "
                  f"{written.candidates:,} candidates; written in {made:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
            loaded = median([json_load_seconds(root) for _ in range(runs(1))])
            rows = sum(written.rows.values())
            scale = (f"{size:,} messages, {rows:,} rows, {written.files:,} files, "
                     f"{written.bytes / 1e6:,.0f} MB")  # fmt: skip
            for database in (db for db, chosen in wanted.items() if size in chosen):
                got = measure(database, root, written, size)
                peaks[database][size] = got.peak_mb
                print(f"  {database}: {got.seconds:.1f} s, peak {got.peak_mb:.0f} MB "
                      f"(json.load {loaded:.1f} s)", file=sys.stderr, flush=True)  # fmt: skip
                results.append(Result(
                    "importing", f"convener import slack ({scale}; {database})",
                    got.rows / got.seconds,
                    "rows/s (higher is better): the whole command, check pass and import; "
                    "baseline: json.load of the same files, no database",
                    rows / loaded,
                ))  # fmt: skip
                results.append(Result(
                    "importing", f"peak memory, import of {size:,} messages ({database})",
                    got.peak_mb, "MB (lower is better), the importing process",
                ))  # fmt: skip
            shutil.rmtree(root)
    for database, chosen in wanted.items():
        if len(chosen) >= 2:
            small, large = chosen[0], chosen[-1]
            growth = peaks[database][large] / peaks[database][small]
            results.append(Result(
                "importing", f"peak memory growth {large:,} vs {small:,} messages ({database})",
                growth, "times (lower is better)", target=f"<= {GROWTH}", met=growth <= GROWTH,
            ))  # fmt: skip
    emit(results)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--import":
        print(json.dumps(run_import(sys.argv[2])))
    else:
        main()
