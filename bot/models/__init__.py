"""SQLAlchemy models: every table Convener keeps, one module per family, all importable from
here (`from bot.models import Member`) and all in `Base.metadata` (migrations compare it).

Members are people; an identity is one platform account of a member (a member who has
linked Slack and Matrix has two). The activity log is append-only metadata of what members
did; message text is kept only when `CONVENER_STORE_MESSAGE_TEXT` is on.
"""

from bot.models.activity import Activity, ActivityDeadLetter, Channel, HandledEvent
from bot.models.base import Base, BigId, UTCDateTime
from bot.models.calendars import CalendarFeed
from bot.models.events import Call, CallInterest, CallTopic, Event, EventRsvp, EventTopic
from bot.models.home import HomeTab
from bot.models.housekeeping import AuditEntry, DigestRun, KeyValue
from bot.models.imports import ImportedUnit, LibraryCandidate
from bot.models.introductions import (
    IntroGroup,
    IntroMember,
    IntroOptOut,
    IntroRound,
    IntroSchedule,
)
from bot.models.members import Expertise, Identity, LinkCode, Member, Onboarding, Role, Topic
from bot.models.notices import Notice
from bot.models.prompts import Prompt, PromptRun, PromptSchedule
from bot.models.questions import (
    KnowledgeEntry,
    KnowledgeTopic,
    Question,
    QuestionExpert,
    QuestionOffer,
    QuestionTopic,
)

__all__ = [
    "Activity",
    "ActivityDeadLetter",
    "AuditEntry",
    "Base",
    "BigId",
    "CalendarFeed",
    "Call",
    "CallInterest",
    "CallTopic",
    "Channel",
    "DigestRun",
    "Event",
    "EventRsvp",
    "EventTopic",
    "Expertise",
    "HandledEvent",
    "HomeTab",
    "Identity",
    "ImportedUnit",
    "IntroGroup",
    "IntroMember",
    "IntroOptOut",
    "IntroRound",
    "IntroSchedule",
    "KeyValue",
    "KnowledgeEntry",
    "KnowledgeTopic",
    "LibraryCandidate",
    "LinkCode",
    "Member",
    "Notice",
    "Onboarding",
    "Prompt",
    "PromptRun",
    "PromptSchedule",
    "Question",
    "QuestionExpert",
    "QuestionOffer",
    "QuestionTopic",
    "Role",
    "Topic",
    "UTCDateTime",
]
