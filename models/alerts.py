"""Alert rules (the seed's `alerts` table, unchanged; the alerting issue extends it by migration)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.users import CURRENT_TIMESTAMP


class Alert(Base):
    """A threshold on one metric of one resource, owned by a user."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(50))
    resource_id: Mapped[str] = mapped_column(String(100))
    metric_name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[Decimal] = mapped_column(Numeric)
    # CloudWatch operator names, e.g. GreaterThanThreshold.
    comparison_operator: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20), default="ACTIVE", server_default=text("'ACTIVE'"))
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)
    updated_at: Mapped[datetime | None] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CURRENT_TIMESTAMP
    )
