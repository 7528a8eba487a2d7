"""Alert rules: the vocabulary (CloudWatch's names), the `Rule` value, and validation of drafts.

A draft is what a form or a rules file gives: a mapping of field names (the YAML's snake_case
names) to values, possibly strings. `parse_rule` turns it into a `Rule` or raises `InvalidRule`
with one message per bad field, so nothing invalid is ever stored.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from oaktree.auth.validation import control_character_problem
from oaktree.catalogue import CATALOGUE, MetricSpec
from oaktree.config import ACCOUNT_ID, known_regions


class AlarmState(enum.StrEnum):
    """CloudWatch's three alarm states; a new rule-resource starts in INSUFFICIENT_DATA."""

    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class ComparisonOperator(enum.StrEnum):
    """CloudWatch's comparisons (the value is on the left): four against a threshold, three against a band.

    The band operators are CloudWatch's anomaly-detection ones: the band is the series' seasonal
    baseline +/- `threshold` spreads (`oaktree.analytics.anomalies.seasonal_baseline`), so the
    threshold of a band rule is the band's half-width, 5 being the anomaly detector's own.
    """

    GREATER = "GreaterThanThreshold"
    GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    LESS = "LessThanThreshold"
    LESS_OR_EQUAL = "LessThanOrEqualToThreshold"
    OUTSIDE_BAND = "LessThanLowerOrGreaterThanUpperThreshold"
    ABOVE_BAND = "GreaterThanUpperThreshold"
    BELOW_BAND = "LessThanLowerThreshold"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def is_band(self) -> bool:
        """Return True for the operators that compare with an anomaly band rather than a threshold."""
        return self in _BAND_OPERATORS

    def breaches(self, value: float, threshold: float) -> bool:
        """Return whether `value` is on the alarming side of `threshold` (threshold operators only)."""
        return _COMPARE[self](value, threshold)

    def breaches_band(self, value: float, lower: float, upper: float) -> bool:
        """Return whether `value` is on the alarming side of the band `lower`..`upper` (band operators)."""
        if self is ComparisonOperator.ABOVE_BAND:
            return value > upper
        if self is ComparisonOperator.BELOW_BAND:
            return value < lower
        return value < lower or value > upper


_COMPARE: dict[ComparisonOperator, Callable[[float, float], bool]] = {
    ComparisonOperator.GREATER: operator.gt,
    ComparisonOperator.GREATER_OR_EQUAL: operator.ge,
    ComparisonOperator.LESS: operator.lt,
    ComparisonOperator.LESS_OR_EQUAL: operator.le,
}
_SYMBOLS = {
    ComparisonOperator.GREATER: ">",
    ComparisonOperator.GREATER_OR_EQUAL: ">=",
    ComparisonOperator.LESS: "<",
    ComparisonOperator.LESS_OR_EQUAL: "<=",
    ComparisonOperator.OUTSIDE_BAND: "outside the band of",
    ComparisonOperator.ABOVE_BAND: "above the band of",
    ComparisonOperator.BELOW_BAND: "below the band of",
}
_BAND_OPERATORS = frozenset(
    {ComparisonOperator.OUTSIDE_BAND, ComparisonOperator.ABOVE_BAND, ComparisonOperator.BELOW_BAND}
)
# A band is learned from 5-minute buckets (the anomaly detector's resolution): a band rule's
# period is exactly that, so its values are on the scale of the band.
BAND_PERIOD_SECONDS = 300
# Statistics whose 5-minute value is a bucket of the warehouse's rollups (not percentiles).
BAND_STATISTICS = ("Average", "Sum", "Minimum", "Maximum")
MAX_BAND_WIDTH = 100.0


class TreatMissingData(enum.StrEnum):
    """CloudWatch's treatments of a missing datapoint."""

    MISSING = "missing"
    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"


# PagerDuty's severities, mildest last; email, Slack and SNS show them as they are.
SEVERITIES = ("critical", "error", "warning", "info")
# Statistics of a period computed from the stored 1-minute values of the same statistic.
PERIOD_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
# Percentiles of a period: computed from the 1-minute Average values inside the period, so they
# exist only for metrics collected as Average (a gauge). CloudWatch computes them from raw
# samples, which the warehouse does not keep; with a 60 s period a percentile is that minute's value.
PERCENTILES = {"p90": 0.90, "p95": 0.95, "p99": 0.99}
PERCENTILE_SOURCE_STATISTIC = "Average"
# CloudWatch's limits: evaluation periods x period cannot exceed one day.
MAX_EVALUATION_SECONDS = 24 * 3600
MAX_NAME_LENGTH = 200
MAX_RESOURCE_ID_LENGTH = 100  # the seed's alerts.resource_id is VARCHAR(100)
MAX_FLAP_TRANSITIONS = 1000
MAX_FLAP_WINDOW_MINUTES = 24 * 60
FLEET = "*"  # alerts.resource_id of a rule whose selector picks the resources


def metric_specs(resource_type: str, metric_name: str) -> list[MetricSpec]:
    """Return the catalogue entries of one stored metric name (e.g. `ThrottledRequests:PutItem`)."""
    return [
        spec
        for spec in CATALOGUE
        if spec.resource_type.value == resource_type and spec.series_name == metric_name
    ]


def rule_statistics(spec: MetricSpec) -> tuple[str, ...]:
    """Return the statistics a rule may use on a metric: those collected, and percentiles of gauges."""
    collected = tuple(statistic for statistic in PERIOD_STATISTICS if statistic in spec.statistics)
    if PERCENTILE_SOURCE_STATISTIC in spec.statistics:
        collected += tuple(PERCENTILES)
    return collected


@dataclasses.dataclass(frozen=True, slots=True)
class Selector:
    """Which resources of the rule's type a fleet rule covers: optional region and account, required tags."""

    region: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    account_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = {"region": self.region, "tags": dict(self.tags)}
        if self.account_id is not None:  # rules saved before accounts keep their stored shape
            value["account_id"] = self.account_id
        return value

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Selector:
        return cls(
            region=value.get("region"),
            tags=tuple(sorted((value.get("tags") or {}).items())),
            account_id=value.get("account_id"),
        )

    def matches(self, region: str, tags: Mapping[str, str], account_id: str | None = None) -> bool:
        """Return whether a resource in `region` (of `account_id`) with `tags` is covered."""
        if self.region is not None and region != self.region:
            return False
        if self.account_id is not None and account_id != self.account_id:
            return False
        return all(tags.get(key) == value for key, value in self.tags)


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """A validated alert rule. `id` is None until stored; `resource_id` is None for fleet rules."""

    name: str
    resource_type: str
    metric_name: str
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison_operator: ComparisonOperator
    resource_id: str | None = None
    selector: Selector | None = None
    treat_missing_data: TreatMissingData = TreatMissingData.MISSING
    severity: str = "warning"
    channels: tuple[str, ...] = ()
    owner: str | None = None
    description: str | None = None
    enabled: bool = True
    recovery_periods: int | None = None
    flap_transitions: int | None = None
    flap_window_minutes: int | None = None
    id: int | None = None

    @property
    def is_percentile(self) -> bool:
        return self.statistic in PERCENTILES

    @property
    def source_statistic(self) -> str:
        """Return the statistic of the stored 1-minute series this rule reads."""
        return PERCENTILE_SOURCE_STATISTIC if self.is_percentile else self.statistic

    @property
    def evaluation_range(self) -> int:
        """Return how many periods an evaluation looks at: N plus two, as CloudWatch does for N = 3."""
        return self.evaluation_periods + 2

    @property
    def condition(self) -> str:
        """Return the condition as one line, e.g. `CPUUtilization Average > 90`.

        A band rule reads `CPUUtilization Average outside the band of 5 spreads`.
        """
        condition = (
            f"{self.metric_name} {self.statistic} {self.comparison_operator.symbol} {self.threshold:g}"
        )
        return f"{condition} spreads" if self.comparison_operator.is_band else condition

    def to_draft(self) -> dict[str, Any]:
        """Return the rule as the fields of a rules file (what `parse_rule` reads back)."""
        draft: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "selector": self.selector.to_dict() if self.selector else None,
            "metric_name": self.metric_name,
            "statistic": self.statistic,
            "period": self.period,
            "evaluation_periods": self.evaluation_periods,
            "datapoints_to_alarm": self.datapoints_to_alarm,
            "threshold": self.threshold,
            "comparison_operator": self.comparison_operator.value,
            "treat_missing_data": self.treat_missing_data.value,
            "severity": self.severity,
            "channels": list(self.channels),
            "owner": self.owner,
            "enabled": self.enabled,
            "recovery_periods": self.recovery_periods,
            "flap_transitions": self.flap_transitions,
            "flap_window_minutes": self.flap_window_minutes,
        }
        return {key: value for key, value in draft.items() if value is not None}


class InvalidRule(ValueError):
    """A draft rule is invalid; `errors` maps each bad field to a message naming the problem."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


DRAFT_FIELDS = frozenset(
    {
        "name",
        "description",
        "resource_type",
        "resource_id",
        "selector",
        "metric_name",
        "statistic",
        "period",
        "evaluation_periods",
        "datapoints_to_alarm",
        "threshold",
        "comparison_operator",
        "treat_missing_data",
        "severity",
        "channels",
        "owner",
        "enabled",
        "recovery_periods",
        "flap_transitions",
        "flap_window_minutes",
    }
)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Fields:
    """Reads one draft's fields, collecting a message per bad field instead of stopping at the first."""

    def __init__(self, draft: Mapping[str, Any]) -> None:
        self.draft = draft
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def text(self, field: str, *, required: bool = False, max_length: int = 255) -> str | None:
        value = self.draft.get(field)
        if _blank(value):
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(value, str):
            self.fail(field, "must be text")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.fail(field, f"must be at most {max_length} characters")
            return None
        if problem := control_character_problem(value):
            self.fail(field, problem)
            return None
        return value

    def choice(self, field: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.draft.get(field)
        if _blank(value):
            if default is None:
                self.fail(field, f"is required (one of {', '.join(choices)})")
            return default
        if value not in choices:
            self.fail(field, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return str(value)

    def integer(self, field: str, *, low: int, high: int, default: int | None = None) -> int | None:
        value = self.draft.get(field)
        if _blank(value):
            if default is None:
                self.fail(field, "is required")
            return default
        if isinstance(value, bool):
            self.fail(field, "must be a whole number")
            return None
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                self.fail(field, f"must be a whole number, not {value!r}")
                return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            self.fail(field, "must be a whole number")
            return None
        if not low <= value <= high:
            self.fail(field, f"must be between {low} and {high}")
            return None
        return value

    def optional_integer(self, field: str, *, low: int, high: int) -> int | None:
        if _blank(self.draft.get(field)):
            return None
        return self.integer(field, low=low, high=high)

    def number(self, field: str) -> float | None:
        value = self.draft.get(field)
        if _blank(value):
            self.fail(field, "is required")
            return None
        if isinstance(value, bool):
            self.fail(field, "must be a number")
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.fail(field, f"must be a number, not {value!r}")
                return None
        if not isinstance(value, int | float):
            self.fail(field, "must be a number")
            return None
        if not math.isfinite(value):
            self.fail(field, "must be a finite number")
            return None
        return float(value)

    def boolean(self, field: str, default: bool) -> bool:
        value = self.draft.get(field)
        if _blank(value):
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
            return value.strip().lower() in {"true", "yes", "1"}
        self.fail(field, "must be true or false")
        return default


def _parse_tags(fields: _Fields, value: Any) -> tuple[tuple[str, str], ...] | None:
    """Return tags from a mapping or from text such as `env=prod, team=data`."""
    if _blank(value):
        return ()
    if isinstance(value, str):
        pairs = {}
        for part in value.split(","):
            key, equals, tag_value = part.partition("=")
            if not equals or not key.strip():
                fields.fail("selector", f"tags must look like key=value, not {part.strip()!r}")
                return None
            pairs[key.strip()] = tag_value.strip()
        value = pairs
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        fields.fail("selector", "tags must map tag names to values")
        return None
    for key, tag_value in value.items():
        if control_character_problem(key) or control_character_problem(str(tag_value)):
            fields.fail("selector", "tags must not contain control characters")
            return None
    return tuple(sorted((key, str(tag_value)) for key, tag_value in value.items()))


def _parse_selector(fields: _Fields, value: Any) -> Selector | None:
    if not isinstance(value, Mapping):
        fields.fail("selector", "must be a mapping with an optional region, account_id and tags")
        return None
    unknown = set(value) - {"region", "tags", "account_id"}
    if unknown:
        fields.fail(
            "selector",
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; use region, account_id and tags",
        )
        return None
    account_id = value.get("account_id")
    if isinstance(account_id, int):  # YAML reads an unquoted id as a number
        account_id = f"{account_id:012d}"
    if _blank(account_id):
        account_id = None
    elif not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        fields.fail("selector", f"account_id must be a 12-digit AWS account id, not {account_id!r}")
        return None
    region = value.get("region")
    if _blank(region):
        region = None
    elif region not in known_regions():
        fields.fail("selector", f"unknown AWS region {region!r}")
        return None
    tags = _parse_tags(fields, value.get("tags"))
    if tags is None:
        return None
    return Selector(region=region, tags=tags, account_id=account_id)


def _parse_channels(fields: _Fields, value: Any) -> tuple[str, ...]:
    if _blank(value):
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) and name for name in value):
        fields.fail("channels", "must be a list of channel names")
        return ()
    return tuple(sorted(set(value)))


def _check_band_rule(
    fields: _Fields, operator_name: str, *, period: int | None, statistic: str | None, threshold: float | None
) -> None:
    """Record what a rule with a band operator needs: a 5-minute period, a bucket statistic, a width."""
    if period is not None and period != BAND_PERIOD_SECONDS:
        fields.fail(
            "period",
            f"{operator_name} compares with a band learned from 5-minute buckets: "
            f"the period must be {BAND_PERIOD_SECONDS}",
        )
    if statistic is not None and statistic not in BAND_STATISTICS:
        fields.fail("statistic", f"{operator_name} works with {', '.join(BAND_STATISTICS)}, not {statistic}")
    if threshold is not None and not 0 < threshold <= MAX_BAND_WIDTH:
        fields.fail(
            "threshold",
            f"with {operator_name} the threshold is the band's half-width in spreads: more than 0 "
            f"and at most {MAX_BAND_WIDTH:g} (the anomaly detector uses 5)",
        )


def parse_rule(draft: Mapping[str, Any], *, rule_id: int | None = None) -> Rule:
    """Return the rule a draft describes, or raise InvalidRule naming every bad field."""
    fields = _Fields(draft)
    unknown = sorted(str(key) for key in draft if key not in DRAFT_FIELDS)
    for key in unknown:
        fields.fail(key, "is not a rule field")

    name = fields.text("name", required=True, max_length=MAX_NAME_LENGTH)
    description = fields.text("description", max_length=2000)
    owner = fields.text("owner", max_length=100)
    typed = tuple(sorted({spec.resource_type.value for spec in CATALOGUE}))
    resource_type = fields.choice("resource_type", typed)

    resource_id = fields.text("resource_id", max_length=MAX_RESOURCE_ID_LENGTH)
    if resource_id == FLEET:
        resource_id = None
    selector = None
    if draft.get("selector") is not None:
        selector = _parse_selector(fields, draft["selector"])
    if resource_id is not None and draft.get("selector") is not None:
        fields.fail("selector", "give either a resource_id or a selector, not both")
    elif resource_id is None and draft.get("selector") is None:
        fields.fail("resource_id", "give a resource_id, or a selector for every resource of the type")

    metric_name = fields.text("metric_name", required=True, max_length=100)
    spec = None
    if metric_name and resource_type:
        specs = metric_specs(resource_type, metric_name)
        if not specs:
            known = sorted({s.series_name for s in CATALOGUE if s.resource_type.value == resource_type})
            fields.fail(
                "metric_name",
                f"{metric_name!r} is not collected for {resource_type}; choose one of {', '.join(known)}",
            )
        else:
            spec = specs[0]

    statistic = None
    if spec is not None:
        statistic = fields.choice("statistic", rule_statistics(spec))
    else:
        fields.choice("statistic", PERIOD_STATISTICS + tuple(PERCENTILES))

    period = fields.integer("period", low=1, high=MAX_EVALUATION_SECONDS)
    if period is not None and spec is not None and period % spec.period:
        fields.fail("period", f"must be a multiple of {spec.metric_name}'s period ({spec.period} s)")
    evaluation_periods = fields.integer("evaluation_periods", low=1, high=MAX_EVALUATION_SECONDS // 60)
    if period and evaluation_periods and period * evaluation_periods > MAX_EVALUATION_SECONDS:
        fields.fail("evaluation_periods", "evaluation_periods x period must not exceed one day (86400 s)")
    datapoints_to_alarm = fields.integer(
        "datapoints_to_alarm", low=1, high=MAX_EVALUATION_SECONDS // 60, default=evaluation_periods or 1
    )
    if evaluation_periods and datapoints_to_alarm and datapoints_to_alarm > evaluation_periods:
        fields.fail(
            "datapoints_to_alarm",
            f"must not exceed evaluation_periods ({datapoints_to_alarm} > {evaluation_periods})",
        )
    threshold = fields.number("threshold")
    operator_name = fields.choice("comparison_operator", tuple(op.value for op in ComparisonOperator))
    if operator_name and ComparisonOperator(operator_name).is_band:
        _check_band_rule(fields, operator_name, period=period, statistic=statistic, threshold=threshold)
    treatment = fields.choice(
        "treat_missing_data", tuple(t.value for t in TreatMissingData), default=TreatMissingData.MISSING.value
    )
    severity = fields.choice("severity", SEVERITIES, default="warning")
    channels = _parse_channels(fields, draft.get("channels"))
    enabled = fields.boolean("enabled", True)
    recovery_periods = fields.optional_integer("recovery_periods", low=1, high=MAX_EVALUATION_SECONDS // 60)
    if recovery_periods and evaluation_periods and recovery_periods > evaluation_periods:
        fields.fail("recovery_periods", f"must not exceed evaluation_periods ({evaluation_periods})")
    flap_transitions = fields.optional_integer("flap_transitions", low=1, high=MAX_FLAP_TRANSITIONS)
    flap_window = fields.optional_integer("flap_window_minutes", low=1, high=MAX_FLAP_WINDOW_MINUTES)
    if (flap_transitions is None) != (flap_window is None) and not {
        "flap_transitions",
        "flap_window_minutes",
    } & set(fields.errors):
        missing = "flap_window_minutes" if flap_window is None else "flap_transitions"
        fields.fail(missing, "flap detection needs both flap_transitions and flap_window_minutes")

    if fields.errors:
        raise InvalidRule(fields.errors)
    assert name and resource_type and metric_name and statistic and period and evaluation_periods
    assert datapoints_to_alarm and threshold is not None and operator_name and treatment and severity
    return Rule(
        id=rule_id,
        name=name,
        description=description,
        resource_type=resource_type,
        resource_id=resource_id,
        selector=selector,
        metric_name=metric_name,
        statistic=statistic,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        threshold=threshold,
        comparison_operator=ComparisonOperator(operator_name),
        treat_missing_data=TreatMissingData(treatment),
        severity=severity,
        channels=channels,
        owner=owner,
        enabled=enabled,
        recovery_periods=recovery_periods,
        flap_transitions=flap_transitions,
        flap_window_minutes=flap_window,
    )
