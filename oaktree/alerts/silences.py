"""Silences and maintenance windows: which rule-resources have their notifications held, and when.

A silence matches every condition it names (a rule, a resource, a tag) and is active from its
start until its end, or, with weekly windows, only inside those windows (in its time zone), which
is a recurring maintenance window. Transitions of a silenced rule-resource are still recorded,
marked silenced; when the silence ends, the engine sends one catch-up notification if the state
the channels last heard of is no longer the current one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from oaktree.auth.validation import control_character_problem

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SILENCE = timedelta(days=366)


class InvalidSilence(ValueError):
    """A silence is invalid; `errors` maps each bad field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """A weekly window: on `days` (0 = Monday) from `start` to `end` (overnight when end <= start)."""

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        """Return whether a local time falls inside the window."""
        moment = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= moment < self.end
        # Overnight: after the start belongs to the start's day, before the end to the day before.
        if moment >= self.start:
            return local.weekday() in self.days
        return moment < self.end and (local.weekday() - 1) % 7 in self.days

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": [DAYS[day] for day in sorted(self.days)],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class SilenceSpec:
    """A validated silence (what is stored)."""

    starts_at: datetime
    ends_at: datetime | None
    rule_id: int | None = None
    resource_id: str | None = None
    tag: tuple[str, str] | None = None
    windows: tuple[WeeklyWindow, ...] = ()
    timezone: str = "UTC"
    comment: str = ""
    ended_at: datetime | None = None
    id: int | None = None

    def active(self, now: datetime) -> bool:
        """Return whether the silence holds notifications at `now`."""
        if self.ended_at is not None and now >= self.ended_at:
            return False
        if now < self.starts_at or (self.ends_at is not None and now >= self.ends_at):
            return False
        if not self.windows:
            return True
        local = now.astimezone(ZoneInfo(self.timezone))
        return any(window.contains(local) for window in self.windows)

    def matches(self, *, rule_id: int, resource_id: str, tags: Mapping[str, str]) -> bool:
        """Return whether the silence covers this rule on this resource."""
        if self.rule_id is not None and rule_id != self.rule_id:
            return False
        if self.resource_id is not None and resource_id != self.resource_id:
            return False
        return self.tag is None or tags.get(self.tag[0]) == self.tag[1]

    def expired(self, now: datetime) -> bool:
        """Return whether the silence can never be active again."""
        return (self.ended_at is not None and now >= self.ended_at) or (
            self.ends_at is not None and now >= self.ends_at
        )


def _parse_time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        return None
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        return None


def _parse_days(value: Any) -> frozenset[int] | None:
    """Return weekdays from `["sat", "sun"]`, `"sat,sun"` or a range such as `"mon-fri"`."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or not parts:
        return None
    days: set[int] = set()
    for part in parts:
        if not isinstance(part, str):
            return None
        first, dash, last = part.strip().lower().partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            return None
        start, stop = DAYS.index(first), DAYS.index(last if dash else first)
        days.update((start + offset) % 7 for offset in range((stop - start) % 7 + 1))
    return frozenset(days)


def parse_window(value: Any) -> WeeklyWindow:
    """Return a weekly window from `{"days", "start", "end"}` or text such as `"sat,sun 02:00-04:00"`."""
    if isinstance(value, str):
        days_text, _, hours = value.strip().partition(" ")
        start_text, _, end_text = hours.strip().partition("-")
        value = {"days": days_text, "start": start_text, "end": end_text}
    if not isinstance(value, Mapping):
        raise ValueError("a weekly window is {days, start, end} or text such as 'sat,sun 02:00-04:00'")
    days = _parse_days(value.get("days"))
    start, end = _parse_time(value.get("start")), _parse_time(value.get("end"))
    if days is None:
        raise ValueError(
            f"days must be names such as mon, tue or a range such as mon-fri, not {value.get('days')!r}"
        )
    if start is None or end is None or start == end:
        raise ValueError("start and end must be different times of day such as 02:00 and 04:00")
    return WeeklyWindow(days=days, start=start, end=end)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_silence(draft: Mapping[str, Any], *, now: datetime, rule_ids: Mapping[str, int]) -> SilenceSpec:
    """Return the silence a draft describes, or raise InvalidSilence naming every bad field.

    Fields: `rule` (a rule name), `resource_id`, `tag` ("key=value"), `starts_at` (default now),
    `ends_at` or `duration_minutes`, `weekly_windows`, `timezone`, `comment`.
    """
    errors: dict[str, str] = {}
    rule_id = None
    rule_name = draft.get("rule")
    if rule_name not in (None, ""):
        if rule_name not in rule_ids:
            errors["rule"] = f"no rule named {rule_name!r}"
        else:
            rule_id = rule_ids[rule_name]
    resource_id = draft.get("resource_id") or None
    if resource_id is not None and (
        not isinstance(resource_id, str) or control_character_problem(resource_id)
    ):
        errors["resource_id"] = "must be a resource id"
    tag = None
    tag_text = draft.get("tag")
    if tag_text not in (None, ""):
        key, equals, value = str(tag_text).partition("=")
        if not equals or not key.strip() or control_character_problem(str(tag_text)):
            errors["tag"] = "must look like key=value"
        else:
            tag = (key.strip(), value.strip())
    if (
        rule_id is None
        and resource_id is None
        and tag is None
        and not {"rule", "resource_id", "tag"} & set(errors)
    ):
        errors["rule"] = "a silence must match a rule, a resource_id or a tag (or several)"

    starts_at = now if draft.get("starts_at") in (None, "") else _moment(draft.get("starts_at"))
    if starts_at is None:
        errors["starts_at"] = "must be an ISO date and time"
    ends_at = None
    if draft.get("ends_at") not in (None, ""):
        ends_at = _moment(draft.get("ends_at"))
        if ends_at is None:
            errors["ends_at"] = "must be an ISO date and time"
    elif draft.get("duration_minutes") not in (None, ""):
        try:
            minutes = int(draft["duration_minutes"])
        except (TypeError, ValueError):
            minutes = 0
        if minutes <= 0 or minutes > MAX_SILENCE.total_seconds() / 60:
            errors["duration_minutes"] = "must be a whole number of minutes, at most a year"
        elif starts_at is not None:
            ends_at = starts_at + timedelta(minutes=minutes)
    windows: list[WeeklyWindow] = []
    raw_windows = draft.get("weekly_windows") or []
    if isinstance(raw_windows, str | Mapping):
        raw_windows = [raw_windows]
    for raw in raw_windows:
        try:
            windows.append(parse_window(raw))
        except ValueError as exc:
            errors["weekly_windows"] = str(exc)
            break
    if ends_at is None and not windows and "ends_at" not in errors and "duration_minutes" not in errors:
        errors["ends_at"] = (
            "a one-off silence needs an end (ends_at or duration_minutes); only weekly windows repeat"
        )
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = "must be after starts_at"
    timezone = draft.get("timezone") or "UTC"
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"unknown time zone {timezone!r}"
    comment = draft.get("comment") or ""
    if not isinstance(comment, str) or control_character_problem(comment, allowed=frozenset("\n")):
        errors["comment"] = "must be text"
    if errors:
        raise InvalidSilence(errors)
    assert starts_at is not None
    return SilenceSpec(
        starts_at=starts_at,
        ends_at=ends_at,
        rule_id=rule_id,
        resource_id=resource_id,
        tag=tag,
        windows=tuple(windows),
        timezone=str(timezone),
        comment=comment,
    )


def windows_from_records(records: Sequence[Mapping[str, Any]] | None) -> tuple[WeeklyWindow, ...]:
    """Return stored weekly windows (as `WeeklyWindow.to_dict` wrote them)."""
    return tuple(parse_window(record) for record in records or ())
