"""Members' own pages of Convener on a platform (Slack's Home tab), kept up to date."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class HomeTab(Base):
    """A platform account's home page, once its member has opened it (only those are
    republished; erasing the account removes it). `version` counts changes to what it
    shows: a feature bumps it in the transaction of the change (`bot.home.changed`);
    `published_version` is the version last published, so the page is stale while they
    differ, and many changes make one publish. `retry_at` holds a failed publish back."""

    __tablename__ = "home_tabs"

    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    opened_at: Mapped[datetime] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
