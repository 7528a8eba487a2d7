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


def _like_literal(text: str) -> str:
    """Return text with LIKE's wildcards escaped, so it matches only itself."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_entries(
    *,
    session: Session,
    principal: Principal,
    limit: int = 100,
    actor: str | None = None,
    action_prefix: str | None = None,
    target_contains: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return the newest audit entries as dicts (admins only), optionally filtered.

    `actor` matches the name exactly, `action_prefix` the start of the action (`resource.`,
    `user.`), `target_contains` part of the target (case-insensitive); `since`..`until` is the
    half-open time range.
    """
    require(principal, Permission.VIEW_AUDIT_LOG)
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action_prefix:
        query = query.where(AuditEntry.action.like(f"{_like_literal(action_prefix)}%", escape="\\"))
    if target_contains:
        query = query.where(AuditEntry.target.ilike(f"%{_like_literal(target_contains)}%", escape="\\"))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
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
