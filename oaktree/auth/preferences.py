"""Per-user settings (the seed's `settings` table) and typed accessors for the dashboard's preferences."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import User, UserSetting
from oaktree.auth import audit
from oaktree.auth.context import AuthContext
from oaktree.auth.errors import InvalidInput, UserNotFound
from oaktree.auth.roles import Permission, Principal, require
from oaktree.auth.validation import LINE_BREAKS_AND_TABS, control_character_problem
from oaktree.config import known_regions

KEY_MAX = 100


class Theme(enum.StrEnum):
    """Dashboard colour themes."""

    LIGHT = "light"
    DARK = "dark"
    SYSTEM = "system"


# The dashboard's time-range picker; 1-minute CloudWatch data lives 15 days, so nothing longer.
TIME_RANGES = ("15m", "1h", "3h", "6h", "12h", "24h", "7d", "14d")


class PreferenceKey(enum.StrEnum):
    """Settings keys with a typed meaning."""

    DEFAULT_REGION = "default_region"
    DEFAULT_TIME_RANGE = "default_time_range"
    TIMEZONE = "timezone"
    THEME = "theme"


@dataclasses.dataclass(frozen=True, slots=True)
class Preferences:
    """The dashboard preferences of one user, with defaults for anything unset."""

    default_region: str | None = None
    default_time_range: str = "3h"
    timezone: str = "UTC"
    theme: Theme = Theme.SYSTEM


def _preference_problem(key: PreferenceKey, value: str) -> str | None:
    if key == PreferenceKey.DEFAULT_REGION and value not in known_regions():
        return f"unknown AWS region {value!r}"
    if key == PreferenceKey.DEFAULT_TIME_RANGE and value not in TIME_RANGES:
        return f"must be one of {', '.join(TIME_RANGES)}"
    if key == PreferenceKey.THEME and value not in {theme.value for theme in Theme}:
        return f"must be one of {', '.join(theme.value for theme in Theme)}"
    if key == PreferenceKey.TIMEZONE:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return f"unknown time zone {value!r} (use an IANA name such as Asia/Singapore)"
    return None


def _target_user(principal: Principal, user_id: int | None, permission_for_own: Permission) -> int:
    """Return whose settings are meant; someone else's need the manage-users permission."""
    target = principal.user_id if user_id is None else user_id
    if target is None:
        raise InvalidInput({"user_id": "the system principal has no settings of its own"})
    require(principal, permission_for_own if target == principal.user_id else Permission.MANAGE_USERS)
    return target


def _require_user(session: Session, user_id: int) -> None:
    if session.get(User, user_id) is None:
        raise UserNotFound(f"no user with id {user_id}")


@contextmanager
def _writing_settings_of(session: Session, user_id: int) -> Iterator[None]:
    """Run the block's writes; a constraint they break becomes a clear error, with nothing stored."""
    try:
        yield
    except IntegrityError:
        # Either the user was deleted since _require_user, or another request inserted the same
        # new key first (the select in _put saw neither).
        session.rollback()
        _require_user(session, user_id)
        raise InvalidInput(
            {"key": "was being set by another request at the same moment; try again"}
        ) from None


def get_settings_map(
    *, session: Session, principal: Principal, user_id: int | None = None
) -> dict[str, str | None]:
    """Return every setting of a user (default: the caller) as a dict, stored values verbatim."""
    target = _target_user(principal, user_id, Permission.VIEW)
    rows = session.execute(select(UserSetting.key, UserSetting.value).where(UserSetting.user_id == target))
    return {key: value for key, value in rows}


def set_setting(
    *,
    session: Session,
    ctx: AuthContext,
    principal: Principal,
    key: str,
    value: str | None,
    user_id: int | None = None,
) -> None:
    """Store one setting of a user (default: the caller); typed keys are validated, others kept verbatim."""
    target = _target_user(principal, user_id, Permission.MANAGE_OWN_ACCOUNT)
    _check_key(key)
    if value is not None and (problem := control_character_problem(value, allowed=LINE_BREAKS_AND_TABS)):
        raise InvalidInput({"value": problem})
    typed_key = key in {member.value for member in PreferenceKey}
    if typed_key and value is not None and (problem := _preference_problem(PreferenceKey(key), value)):
        raise InvalidInput({key: problem})
    _require_user(session, target)
    with _writing_settings_of(session, target):
        _put(session, ctx, principal, target, key, value)
        session.commit()


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= KEY_MAX:
        raise InvalidInput({"key": f"must be 1 to {KEY_MAX} characters"})
    if problem := control_character_problem(key):
        raise InvalidInput({"key": problem})


def _put(
    session: Session, ctx: AuthContext, principal: Principal, user_id: int, key: str, value: str | None
) -> None:
    row = session.scalars(
        select(UserSetting).where(UserSetting.user_id == user_id, UserSetting.key == key)
    ).first()
    if row is None:
        session.add(UserSetting(user_id=user_id, key=key, value=value))
    else:
        row.value = value
    audit.record(
        session,
        actor=principal,
        action="setting.set",
        target=f"user:{user_id}",
        at=ctx.now(),
        details={"key": key},
    )


def delete_setting(
    *, session: Session, ctx: AuthContext, principal: Principal, key: str, user_id: int | None = None
) -> None:
    """Remove one setting of a user (default: the caller), so its default applies again."""
    target = _target_user(principal, user_id, Permission.MANAGE_OWN_ACCOUNT)
    _check_key(key)
    session.execute(delete(UserSetting).where(UserSetting.user_id == target, UserSetting.key == key))
    audit.record(
        session,
        actor=principal,
        action="setting.deleted",
        target=f"user:{target}",
        at=ctx.now(),
        details={"key": key},
    )
    session.commit()


def get_preferences(*, session: Session, principal: Principal, user_id: int | None = None) -> Preferences:
    """Return a user's typed preferences; unset or no-longer-valid stored values fall back to defaults."""
    stored = get_settings_map(session=session, principal=principal, user_id=user_id)
    values: dict[str, object] = {}
    for key in PreferenceKey:
        value = stored.get(key.value)
        if value is not None and _preference_problem(key, value) is None:
            values[key.value] = Theme(value) if key == PreferenceKey.THEME else value
    return Preferences(**values)  # type: ignore[arg-type]


def set_preferences(
    *,
    session: Session,
    ctx: AuthContext,
    principal: Principal,
    user_id: int | None = None,
    default_region: str | None = None,
    default_time_range: str | None = None,
    timezone: str | None = None,
    theme: str | Theme | None = None,
) -> Preferences:
    """Validate and store the given preferences together (all or none) and return the result."""
    target = _target_user(principal, user_id, Permission.MANAGE_OWN_ACCOUNT)
    changes = {
        PreferenceKey.DEFAULT_REGION: default_region,
        PreferenceKey.DEFAULT_TIME_RANGE: default_time_range,
        PreferenceKey.TIMEZONE: timezone,
        PreferenceKey.THEME: None if theme is None else str(theme),
    }
    errors = {
        key.value: problem
        for key, value in changes.items()
        if value is not None and (problem := _preference_problem(key, value))
    }
    if errors:
        raise InvalidInput(errors)
    _require_user(session, target)
    with _writing_settings_of(session, target):
        for key, value in changes.items():
            if value is not None:
                _put(session, ctx, principal, target, key.value, value)
        session.commit()
    return get_preferences(session=session, principal=principal, user_id=user_id)
