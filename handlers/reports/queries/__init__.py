"""One query per report figure (a query may give several figures that come from the same
rows, in one pass over them). Every function takes a synchronous SQLAlchemy `Connection`
(reports are built on a worker thread) and a `Period`; they work on SQLite and PostgreSQL.

Bots are excluded everywhere. "Posting" means the activity kinds message, reply, reaction.
The queries are grouped by figure family: activity (summary counts, weeks, channels),
membership (members, new members, retention, shared profile values), threads (questions
and prompts), library (knowledge), events_calls, connections (exchanges between cities);
common.py holds what they share.
"""

from handlers.reports.queries.activity import (
    COUNTED_KINDS,
    activity_figures,
    channels,
    week_days,
    weekly,
)
from handlers.reports.queries.common import (
    BOTS,
    human,
    in_period,
    joined_list,
    plus_days,
    same,
    tally,
    week_start,
)
from handlers.reports.queries.connections import answer_cities, exchanges
from handlers.reports.queries.events_calls import call_figures, calls, event_figures, events
from handlers.reports.queries.library import knowledge
from handlers.reports.queries.membership import (
    OTHER,
    QUASI_IDENTIFIERS,
    member_status,
    member_total,
    members,
    new_member_count,
    new_members,
    quasi_key,
    retention,
    shared_values,
)
from handlers.reports.queries.threads import (
    ResponseTimes,
    percentile,
    prompt_figures,
    prompts,
    questions,
    response_times,
)

__all__ = [
    "BOTS",
    "COUNTED_KINDS",
    "OTHER",
    "QUASI_IDENTIFIERS",
    "ResponseTimes",
    "activity_figures",
    "answer_cities",
    "call_figures",
    "calls",
    "channels",
    "event_figures",
    "events",
    "exchanges",
    "human",
    "in_period",
    "joined_list",
    "knowledge",
    "member_status",
    "member_total",
    "members",
    "new_member_count",
    "new_members",
    "percentile",
    "plus_days",
    "prompt_figures",
    "prompts",
    "quasi_key",
    "questions",
    "response_times",
    "retention",
    "same",
    "shared_values",
    "tally",
    "week_days",
    "week_start",
    "weekly",
]
