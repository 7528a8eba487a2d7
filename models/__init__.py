"""OakTree's application database (users, roles, settings, alerts, alert history, audit) as models.

Importing this package registers every table on `Base.metadata`, which Alembic compares against.
"""

from models.alerts import (
    Alert,
    AlertChannel,
    AlertNotification,
    AlertState,
    AlertTransition,
    DeliveryAttempt,
    NotificationChannel,
    Silence,
)
from models.audit import AuditEntry
from models.base import Base, UtcDateTime, utcnow
from models.credentials import LoginAttempt, PasswordResetToken, RevokedToken
from models.user_settings import UserSetting
from models.users import Role, User, UserRole

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertNotification",
    "AlertState",
    "AlertTransition",
    "AuditEntry",
    "Base",
    "DeliveryAttempt",
    "LoginAttempt",
    "NotificationChannel",
    "PasswordResetToken",
    "RevokedToken",
    "Role",
    "Silence",
    "User",
    "UserRole",
    "UserSetting",
    "UtcDateTime",
    "utcnow",
]
