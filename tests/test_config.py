"""Settings: every field refuses a wrong type, an empty value and out-of-range numbers in one line."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from oaktree.config import ConfigError, Settings, load_settings

HUGE_INTEGER = "1" + "0" * 30

# Values of the right type in the wrong format, for the fields whose format is checked.
WRONG_FORMAT = {
    "regions": "mars-1",
    "home_region": "mars-1",
    "database_url": "mysql://root@localhost/oaktree",
    "metrics_table": "no spaces allowed",
    "events_table": "ab",
    "jwt_secret": "too-short",
    "jwt_secret_arn": "arn:aws:s3:::not-a-secret",
    "password_reset_url": "javascript:alert(1)",
    "pagerduty_events_url": "ftp://events.example.com/v2/enqueue",
    "smtp_sender": "not an address",
    "warehouse_catalog_schema": "Not-A-Schema",
}


def _value_type(annotation: Any) -> Any:
    """Return the type a field holds when set (Optional[X] gives X)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        (held,) = (arg for arg in get_args(annotation) if arg is not type(None))
        return held
    return annotation


def bad_values(name: str, field: FieldInfo) -> list[str]:
    """Return environment values the setting must refuse, chosen by its type."""
    held = _value_type(field.annotation)
    if held is bool:
        values = ["maybe", ""]
    elif held is int:
        values = ["not-a-number", "", "-1", HUGE_INTEGER]
    elif held is float:
        values = ["not-a-number", "", "-1", HUGE_INTEGER, "1e30", "inf", "nan"]
    elif get_origin(held) is Literal:
        values = ["bogus", ""]
    elif held in (str, Path, SecretStr) or get_origin(held) is tuple:
        values = ["", "   "]
    else:
        raise AssertionError(f"{name}: no bad values known for {field.annotation!r}; add them to bad_values")
    return [*values, WRONG_FORMAT[name]] if name in WRONG_FORMAT else values


CASES = [(name, value) for name, field in Settings.model_fields.items() for value in bad_values(name, field)]


def test_every_wrong_format_names_a_setting() -> None:
    assert set(WRONG_FORMAT) <= set(Settings.model_fields)


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{name}={value!r}" for name, value in CASES])
def test_every_setting_refuses_bad_values_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    variable = f"OAKTREE_{name.upper()}"
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"invalid configuration: {variable}: ")
    assert "\n" not in message


def test_the_defaults_are_valid() -> None:
    settings = load_settings()
    assert (settings.log_level, settings.jwt_ttl_hours) == ("INFO", 24)


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"
