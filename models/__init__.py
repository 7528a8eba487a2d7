"""OakTree's application database (users, roles, settings, alerts, audit), SQLAlchemy 2.0 models.

Importing this package registers every table on `Base.metadata`, which Alembic compares against.
"""

from models.alerts import Alert
from models.audit import AuditEntry
from models.base import Base, UtcDateTime, utcnow
from models.credentials import LoginAttempt, PasswordResetToken, RevokedToken
from models.user_settings import UserSetting
from models.users import Role, User, UserRole

__all__ = [
    "Alert",
    "AuditEntry",
    "Base",
    "LoginAttempt",
    "PasswordResetToken",
    "RevokedToken",
    "Role",
    "User",
    "UserRole",
    "UserSetting",
    "UtcDateTime",
    "utcnow",
]
