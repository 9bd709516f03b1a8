"""`convener demo`: a realistic sample community, so the reports and commands can be tried
at once. Four months of a municipal-finance community of practice on Slack and Matrix:
several hundred members (some on both platforms, a few with awkward names), channels,
topics and expertise, questions with answers in their threads, and weekly prompts.

Rows are written in bulk with SQLAlchemy Core; the demo only fills an empty database.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, create_engine, func, insert, select

from bot.db import sync_url, upgrade
from bot.i18n import Message, Number, _, n_
from bot.models import (
    Activity,
    Channel,
    Expertise,
    Identity,
    Member,
    Prompt,
    PromptRun,
    Question,
    QuestionExpert,
    QuestionTopic,
    Topic,
)
from bot.textkey import CITY_KEY_LENGTH, NAME_KEY_LENGTH, fold
from bot.topics import key_of

FIRST = ["Amina", "Wanjiru", "Kofi", "Minjun", "Seo-yeon", "Jisoo", "José", "Lucía", "Mateo",
         "Fatima", "Oluwaseun", "Thabo", "Priya", "Arjun", "Elena", "Tomás", "Nadia", "Kwame",
         "Hye-jin", "Carlos", "Aisha", "Juan", "Grace", "Daniel", "Mariana", "Yusuf"]  # fmt: skip
LAST = ["Kamau", "Otieno", "Mensah", "Kim", "Park", "Lee", "Núñez", "García", "Hernández",
        "Okafor", "Dlamini", "Sharma", "Rossi", "Ahmed", "Mwangi", "López", "Choi", "Adeyemi",
        "Torres", "Mutua"]  # fmt: skip
AWKWARD = ['=HYPERLINK("http://example.org","click me")', "+1 Budget Office", "@SUM(A1)",
           "김민준", "José Ángel Núñez-Peña", "-Treasurer-",
           "O'Brien; DROP TABLE members"]  # fmt: skip
CITIES = ["Nairobi", "Seoul", "Mexico City", "Lagos", "Accra", "Kampala", "Busan", "Guadalajara",
          "Johannesburg", "Bogotá", "Lima", "Pune"]  # fmt: skip
ORGS = ["City Treasury", "Revenue Authority", "Budget Office", "Finance Department",
        "Audit Office", "Procurement Unit"]  # fmt: skip
ROLES = ["Budget analyst", "Revenue officer", "Chief finance officer", "Auditor",
         "Procurement lead", "Treasurer"]  # fmt: skip
TOPICS = {
    "Budgeting": "budget, budgets, mtef",
    "Participatory budgeting": "participatory, citizens",
    "Property tax": "property, cadastre, valuation",
    "Procurement": "tender, tenders, e-procurement",
    "Audit": "audit, controls",
    "Debt management": "debt, bonds, borrowing",
}
CHANNELS = ["general", "budgeting", "revenue", "procurement", "audit"]
QUESTIONS = [
    "How did you phase a property revaluation without a backlash?",
    "Which e-procurement system works for a mid-sized city?",
    "Has anyone published a citizens' budget that people actually read?",
    "How do you forecast own-source revenue after a shock?",
    "What controls stopped duplicate payments in your treasury?",
    "Any experience issuing a green municipal bond?",
    '=HYPERLINK("http://example.org","Is this a formula?")',
]
PROMPTS = [
    "What is one change to your budget process this year that worked?",
    "Share a tool your team uses to track arrears.",
    "What would you tell a new CFO in their first month?",
    "How do you explain tax increases to residents?",
]
DAYS = 120


def _random_time(rnd: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rnd.uniform(0, (end - start).total_seconds()))


class _Ids:
    def __init__(self) -> None:
        self.event = 0

    def next(self) -> str:
        self.event += 1
        return f"demo-{self.event}"


def fill(conn: Connection, members: int = 420, seed: int = 2026, now: datetime | None = None):
    """Write the demo community; returns (members, activity rows, questions, prompt runs)."""
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=DAYS)
    ids = _Ids()

    channel_rows = [
        {"platform": platform, "channel_id": f"{'C' if platform == 'slack' else '!'}{name}"
         + ("" if platform == "slack" else ":example.org"), "name": f"#{name}",
         "is_direct": False}
        for platform in ("slack", "matrix") for name in CHANNELS
    ]  # fmt: skip
    channel_ids = conn.execute(
        insert(Channel).returning(Channel.id, Channel.platform, sort_by_parameter_order=True),
        channel_rows,
    ).all()
    by_platform = {p: [cid for cid, plat in channel_ids if plat == p] for p in ("slack", "matrix")}
    topic_ids = conn.execute(
        insert(Topic).returning(Topic.id, sort_by_parameter_order=True),
        [{"name": n, "key": key_of(n), "keywords": k, "created_at": start}
         for n, k in TOPICS.items()],
    ).scalars().all()  # fmt: skip

    people = []
    for i in range(members):
        name = AWKWARD[i] if i < len(AWKWARD) else f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        joined = _random_time(rnd, start, now - timedelta(days=3))
        city = rnd.choice(CITIES)
        people.append(
            {"display_name": name, "name_key": fold(name, NAME_KEY_LENGTH), "city": city,
             "city_key": fold(city, CITY_KEY_LENGTH), "org": rnd.choice(ORGS),
             "role_title": rnd.choice(ROLES), "timezone": None, "is_bot": False,
             "created_at": joined, "joined_at": joined, "welcomed_at": joined,
             "is_away": False}
        )  # fmt: skip
    member_ids = (
        conn.execute(insert(Member).returning(Member.id, sort_by_parameter_order=True), people)
        .scalars()
        .all()
    )
    identities, home = [], {}
    for n, member_id in enumerate(member_ids):
        platform = "slack" if rnd.random() < 0.6 else "matrix"
        home[member_id] = platform
        platforms = [platform] + ([("matrix" if platform == "slack" else "slack")]
                                  if rnd.random() < 0.12 else [])  # fmt: skip
        for plat in platforms:
            uid = f"U{n:05d}DEMO" if plat == "slack" else f"@member{n}:example.org"
            identities.append({"member_id": member_id, "platform": plat, "user_id": uid,
                               "display_name": people[n]["display_name"],
                               "name_key": people[n]["name_key"]})  # fmt: skip
    conn.execute(insert(Identity), identities)
    conn.execute(
        insert(Expertise),
        [{"member_id": m, "topic_id": t, "kind": kind, "created_at": start}
         for m in member_ids for kind in ("offers", "wants")
         for t in rnd.sample(topic_ids, rnd.choice((0, 1, 1, 2)))
         if not (kind == "wants" and rnd.random() < 0.5)],
    ) if member_ids else None  # fmt: skip

    activity: list[dict] = []

    def event(member_id: int, channel_id: int, kind: str, ts: datetime, message_id=None,
              thread_id=None) -> str:  # fmt: skip
        message_id = message_id or ids.next()
        activity.append(
            {"ts": ts, "member_id": member_id, "channel_id": channel_id, "kind": kind,
             "platform": "slack" if channel_id in by_platform["slack"] else "matrix",
             "event_id": ids.next(), "message_id": message_id, "thread_id": thread_id,
             "size": rnd.randint(20, 400), "text": None}
        )  # fmt: skip
        return message_id

    posts: list[tuple[int, str, datetime, int]] = []
    for n, member_id in enumerate(member_ids):
        joined = people[n]["joined_at"]
        channels = by_platform[home[member_id]]
        event(member_id, channels[0], "join", joined)
        level = rnd.paretovariate(1.6)  # a few very active members, many quiet ones
        fade = rnd.uniform(10, 120)
        for _post in range(int(min(level * 25, 400))):
            ts = joined + timedelta(days=rnd.expovariate(1 / fade))
            if ts >= now:
                continue
            channel = rnd.choice(channels)
            roll = rnd.random()
            if roll < 0.5 or not posts:
                mid = event(member_id, channel, "message", ts)
                posts.append((channel, mid, ts, member_id))
            else:
                root = posts[rnd.randrange(max(0, len(posts) - 50), len(posts))]
                kind = "reply" if roll < 0.8 else "reaction"
                event(member_id, root[0], kind, max(ts, root[2] + timedelta(minutes=3)),
                      thread_id=root[1])  # fmt: skip

    question_rows, question_meta = [], []
    for i in range(min(150, len(member_ids))):
        asker = rnd.choice(member_ids)
        channel = rnd.choice(by_platform[home[asker]])
        asked = _random_time(rnd, start, now - timedelta(hours=2))
        mid = event(asker, channel, "message", asked)
        question_rows.append(
            {"asker_id": asker, "channel_id": channel, "message_id": mid,
             "text": QUESTIONS[i % len(QUESTIONS)], "asked_at": asked, "status": "open",
             "escalations": 0}
        )  # fmt: skip
        question_meta.append((asker, channel, mid, asked))
    question_ids = conn.execute(
        insert(Question).returning(Question.id, sort_by_parameter_order=True), question_rows
    ).scalars().all() if question_rows else []  # fmt: skip
    links, experts, solved = [], [], []
    for qid, (asker, channel, mid, asked) in zip(question_ids, question_meta, strict=True):
        links.append({"question_id": qid, "topic_id": rnd.choice(topic_ids)})
        for expert in rnd.sample(member_ids, 2):
            experts.append({"question_id": qid, "member_id": expert, "notified_at": asked})
        if rnd.random() < 0.8:
            delay = timedelta(hours=rnd.lognormvariate(1.5, 1.2))
            if asked + delay < now:
                for _reply in range(rnd.randint(1, 4)):
                    helper = rnd.choice([m for m in member_ids if m != asker][:200])
                    event(helper, channel, "reply", asked + delay, thread_id=mid)
                    delay += timedelta(hours=rnd.uniform(0.2, 10))
                if rnd.random() < 0.6:
                    solved.append((qid, min(asked + delay, now)))
        if rnd.random() < 0.15:
            conn.execute(
                Question.__table__.update()
                .where(Question.id == qid)
                .values(escalations=1, last_escalated_at=asked + timedelta(hours=24))
            )
    for qid, when in solved:
        conn.execute(
            Question.__table__.update()
            .where(Question.id == qid)
            .values(status="solved", solved_at=when)
        )
    if links:
        conn.execute(insert(QuestionTopic), links)
        conn.execute(insert(QuestionExpert), experts)

    runs = []
    week = start + timedelta(days=(7 - start.weekday()) % 7)
    n = 0
    while week < now:
        for platform in ("slack", "matrix"):
            text = PROMPTS[n % len(PROMPTS)]
            prompt_id = conn.execute(
                insert(Prompt).returning(Prompt.id),
                [{"text": text, "created_at": start, "used_at": week}],
            ).scalar_one()
            mid = f"prompt-{n}-{platform}"
            channel = by_platform[platform][0]
            runs.append({"prompt_id": prompt_id, "channel_id": channel, "message_id": mid,
                         "text": text, "posted_at": week})  # fmt: skip
            responders = [m for m in member_ids if home[m] == platform]
            for member_id in rnd.sample(responders, min(len(responders), rnd.randint(2, 15))):
                ts = week + timedelta(hours=rnd.uniform(0.5, 96))
                if ts < now:
                    event(member_id, channel, "reply", ts, thread_id=mid)
        n += 1
        week += timedelta(days=7)
    if runs:
        conn.execute(insert(PromptRun), runs)
    for chunk in range(0, len(activity), 5000):
        conn.execute(insert(Activity), activity[chunk : chunk + 5000])
    first_seen = (
        select(func.min(Activity.ts)).where(Activity.member_id == Member.id).scalar_subquery()
    )
    conn.execute(  # questions and prompt replies are drawn at random: nobody acts before joining
        Member.__table__.update()
        .where(first_seen < Member.joined_at)
        .values(joined_at=first_seen, created_at=first_seen, welcomed_at=first_seen)
    )
    return len(member_ids), len(activity), len(question_ids), len(runs)


class NotEmpty(Exception):
    """The database already has members: the demo only fills an empty one."""


def _members(count: int) -> Message:
    return n_("{count} member", "{count} members", count, count=Number(count))


def run(database_url: str) -> Message:
    """Fill the database with the demo community; NotEmpty (with a message) if it has
    members already. Returns what to tell the person."""
    upgrade(database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            existing = conn.scalar(select(func.count()).select_from(Member))
            if existing:
                raise NotEmpty(
                    _("The database already has {members}; the demo only fills an empty one. "
                      "Try `convener demo --fresh demo.db` (or `make demo`) for a demo "
                      "database of its own.", members=_members(existing))
                )  # fmt: skip
            members, rows, questions, runs = fill(conn)
    finally:
        engine.dispose()
    return _(
        "Demo community ready: {members} on Slack and Matrix, {activities}, {questions}, "
        "{runs} over {days} days.",
        members=_members(members),
        activities=n_("{count} activity", "{count} activities", rows, count=Number(rows)),
        questions=n_("{count} question", "{count} questions", questions,
                     count=Number(questions)),
        runs=n_("{count} prompt run", "{count} prompt runs", runs, count=Number(runs)),
        days=DAYS,
    )  # fmt: skip
