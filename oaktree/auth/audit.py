"""Writing and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEntry
from oaktree.auth.roles import Permission, Principal, require


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    target: str | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the change it describes)."""
    entry = AuditEntry(
        user_id=actor.user_id if actor else None,
        actor=actor.username if actor else "system",
        action=action,
        target=target,
        details=details or {},
        at=at,
    )
    session.add(entry)
    return entry


def list_entries(*, session: Session, principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    """Return the newest audit entries as dicts (admins only)."""
    require(principal, Permission.VIEW_AUDIT_LOG)
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return [
        {
            "id": row.id,
            "user_id": row.user_id,
            "actor": row.actor,
            "action": row.action,
            "target": row.target,
            "details": row.details,
            "at": row.at,
        }
        for row in rows
    ]
