"""Prometheus metrics of one running Convener, in a registry of its own (no process-wide
state, so two apps in one test process count apart).

Counters and histograms are updated where things happen (the pipeline, the router's outcome,
the scheduler); the gauges that need the database are read when `/metrics` is scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import ActivityDeadLetter, Question


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "convener_events_handled", "Events handled, by kind and platform",
            ["kind", "platform"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "convener_handler_errors", "Handlers that failed, by platform", ["platform"],
            registry=r,
        )  # fmt: skip
        self.command_seconds = Histogram(
            "convener_command_seconds", "Time to handle a command, reply included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r,
        )  # fmt: skip
        self.activity_waiting = Gauge(
            "convener_activity_rows_waiting", "Activity rows recorded but not yet stored",
            registry=r,
        )  # fmt: skip
        self.dead_letters = Gauge(
            "convener_activity_dead_letters", "Activity rows that could not be stored",
            registry=r,
        )  # fmt: skip
        self.open_questions = Gauge(
            "convener_open_questions", "Questions asked and not solved", registry=r
        )
        self.scheduled_runs = Counter(
            "convener_scheduled_runs", "Scheduled job runs started, by job", ["job"], registry=r
        )
        self.lateness = Histogram(
            "convener_scheduled_run_lateness_seconds",
            "How late scheduled runs started after their time, by job", ["job"],
            buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600), registry=r,
        )  # fmt: skip
        self.leader = Gauge(
            "convener_leader", "1 where this replica holds a role (scheduler, matrix-sync)",
            ["role"], registry=r,
        )  # fmt: skip
        self.outbox_depth = Gauge(
            "convener_outbox_depth", "Notices queued and not yet delivered", registry=r
        )
        self.outbox_oldest = Gauge(
            "convener_outbox_oldest_seconds", "Age of the oldest notice still queued",
            registry=r,
        )  # fmt: skip
        self.outbox_sends = Counter(
            "convener_outbox_sends", "Notices handed to a platform, by platform and outcome "
            "(sent, retry, rate_limited, failed)", ["platform", "outcome"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "convener_rate_limited", "Answers of 'slow down' (HTTP 429) by platform",
            ["platform"], registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)


def database_gauges(session: Session) -> tuple[int, int]:
    """(dead-lettered activity rows, open questions), read at scrape time."""
    dead = session.scalar(select(func.count()).select_from(ActivityDeadLetter)) or 0
    open_ = session.scalar(
        select(func.count()).select_from(Question).where(Question.status == "open")
    )
    return dead, open_ or 0
