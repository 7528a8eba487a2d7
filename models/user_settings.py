"""Per-user key/value settings (the seed's `settings` table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.users import CURRENT_TIMESTAMP


class UserSetting(Base):
    """One setting of one user; values are text and typed by `oaktree.auth.preferences`."""

    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Nullable as in the seed; OakTree only writes per-user rows.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)
    updated_at: Mapped[datetime | None] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CURRENT_TIMESTAMP
    )
