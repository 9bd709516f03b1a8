"""Members' private calendar feeds (`calendar`): only a hash of each token is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class CalendarFeed(Base):
    """A member's feed: the SHA-256 of its token (the URL holds the token itself), so a
    copy of the database reveals no working address. `calendar reset` replaces the row."""

    __tablename__ = "calendar_feeds"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
