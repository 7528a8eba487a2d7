"""What login, logout and password reset remember: attempts, revoked tokens, reset tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class LoginAttempt(Base):
    """One login attempt; the lockout rule is computed from these rows.

    Attempts against unknown names are kept too (user_id NULL) so that they lock out exactly like
    real accounts and lockout cannot reveal which names exist.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "user_id", "at"), Index(None, "identifier", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # HMAC-SHA256 (hex) of what was typed as the username or email, never the text itself (it may
    # be a password typed into the wrong box): oaktree.auth.lockout.identifier_digest. The lockout
    # key for unknown names. Rows from before migration 0002 hold '' (or were deleted).
    identifier: Mapped[str] = mapped_column(String(255))
    # success | failure | locked (refused during a lockout) | unlocked (lock cleared by a reset)
    outcome: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column()


class RevokedToken(Base):
    """A token ended by logout before its expiry; rows are purged once the token would have expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime] = mapped_column()


class PasswordResetToken(Base):
    """A single-use password-reset token; only its SHA-256 is stored."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    # Set when the token is used, or when a newer token or a password change supersedes it.
    used_at: Mapped[datetime | None] = mapped_column()
