"""Users, roles and the link between them (the seed's `users`, `roles`, `user_roles`)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, func, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

CURRENT_TIMESTAMP = text("CURRENT_TIMESTAMP")
ACCOUNT_KEY_BYTES = 16


def new_account_key() -> str:
    """Return a random account key (32 hex characters)."""
    return secrets.token_hex(ACCOUNT_KEY_BYTES)


class User(Base):
    """An OakTree account. Seed columns first, then what login, revocation and disabling need."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Kept from the seed for compatibility; always mirrors membership of the `admin` role.
    is_admin: Mapped[bool | None] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)
    updated_at: Mapped[datetime | None] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=CURRENT_TIMESTAMP
    )
    # A disabled account cannot log in and its existing tokens stop working.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Every token carries the version it was issued under; bumping it revokes all of them at once
    # (password change, "log out everywhere", disabling).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    password_changed_at: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Random and never reused, unlike the id (SQLite hands the highest id out again after a delete):
    # tokens carry it, so a deleted account's token cannot pass for the next account with its id.
    # Nullable so that other tools can still insert users as in the seed; login assigns one then.
    account_key: Mapped[str | None] = mapped_column(
        String(2 * ACCOUNT_KEY_BYTES), default=new_account_key, unique=True, index=True
    )

    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def role_names(self) -> tuple[str, ...]:
        """Return the names of the user's roles, sorted."""
        return tuple(sorted(link.role.name for link in self.role_links))

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r})"


# Login and the duplicate checks match names and addresses case-insensitively, so the database
# must refuse two accounts that differ only in case, whoever writes them and however they race.
Index("uq_users_lower_username", func.lower(User.username), unique=True)
Index("uq_users_lower_email", func.lower(User.email), unique=True)


class Role(Base):
    """A named set of permissions; `admin`, `operator` and `viewer` are seeded by the first migration."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)

    def __repr__(self) -> str:
        return f"Role(name={self.name!r})"


class UserRole(Base):
    """Membership of one user in one role."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow, server_default=CURRENT_TIMESTAMP)

    user: Mapped[User] = relationship(back_populates="role_links")
    role: Mapped[Role] = relationship(lazy="selectin")
