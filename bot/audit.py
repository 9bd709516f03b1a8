"""The audit log: one row for each role change, link, unlink, erasure and report pull."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.models import AuditEntry

ROLE_GRANT, ROLE_REVOKE = "role grant", "role revoke"
LINK, UNLINK, FORGET, REPORT = "link", "unlink", "forget", "report"


def record(
    session: Session | AsyncSession,
    action: str,
    at: datetime,
    *,
    actor_id: int | None = None,
    subject_id: int | None = None,
    detail: str = "",
) -> None:
    """Add an audit row to the session's transaction (it is kept only if that commits)."""
    session.add(
        AuditEntry(at=at, action=action, actor_id=actor_id, subject_id=subject_id, detail=detail)
    )
