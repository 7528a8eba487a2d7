"""The audit log: who changed what, kept even when the acting user is later deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

# JSONB on PostgreSQL (indexable, compact); plain JSON text on SQLite.
JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")


class AuditEntry(Base):
    """One state change: the actor (None for the system), the action, its target and details."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The actor's name at the time, so the entry still reads correctly after the user is deleted.
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON_DOCUMENT, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
