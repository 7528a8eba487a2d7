"""The sandbox's CloudWatch data: a deterministic value for every (resource, metric, minute).

Each value is a pure function of the seed, the simulated resource (its stable plan key and
role), the catalogue metric, the minute and the incident schedule, so tests anywhere can
recompute exactly what the sandbox wrote (`expected_value`). One value is written per series and
minute, so CloudWatch's Average, Maximum and Sum of a 1-minute period all equal that value.

The shape: a daily cycle per resource (its own peak hour and amplitude), per-minute noise, idle
instances that never pass 3 % CPU, and a recurring incident (one instance's CPU above 90 %, one
table throttling) that repeats every 6 hours and is in progress when the sandbox starts.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from oaktree import aws
from oaktree.catalogue import MetricSpec, specs_for
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import get_logger

log = get_logger(__name__)

MINUTE = timedelta(minutes=1)
# The real PutMetricData limit per call; moto does not enforce it, so the writer does.
MAX_PUT_METRIC_DATA_ENTRIES = 1000
# The incident starts this long before the sandbox starts, so a one-shot run already sees it.
INCIDENT_LEAD = timedelta(minutes=20)
INCIDENT_DURATION = timedelta(minutes=40)
INCIDENT_EVERY = timedelta(hours=6)
IDLE_CPU_CEILING = 3.0
INCIDENT_CPU_FLOOR = 90.0


class Role(enum.StrEnum):
    """How a simulated resource behaves."""

    NORMAL = "normal"
    IDLE = "idle"  # an instance nobody uses: CPU under 3 % all day
    INCIDENT = "incident"  # the instance pegged, or the table throttled, during incidents
    STOPPED = "stopped"  # a stopped instance: CloudWatch receives no datapoint at all


@dataclasses.dataclass(frozen=True, slots=True)
class SimulatedResource:
    """A resource of the sandbox fleet with what drives its metrics.

    `key` is the plan's stable name (`<region>/<plan name>`), independent of the ids moto
    assigns, so values depend only on the seed and the plan.
    """

    key: str
    role: Role
    resource: Resource


@dataclasses.dataclass(frozen=True, slots=True)
class IncidentSchedule:
    """Recurring incident windows: `[first_start + k * every, ... + duration)` for every integer k."""

    first_start: datetime
    duration: timedelta = INCIDENT_DURATION
    every: timedelta = INCIDENT_EVERY

    @classmethod
    def around(cls, start: datetime) -> IncidentSchedule:
        """Return the schedule whose incident is in progress at `start` (began 20 minutes before)."""
        return cls(first_start=floor_minute(start) - INCIDENT_LEAD)

    def active(self, minute: datetime) -> bool:
        """Return True if an incident is in progress during this minute."""
        return (minute - self.first_start) % self.every < self.duration


def floor_minute(moment: datetime) -> datetime:
    """Return the start of the UTC minute holding `moment`."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _unit_hash(*parts: object) -> float:
    """Return a deterministic number in [0, 1) for the given parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclasses.dataclass(frozen=True, slots=True)
class _Profile:
    """Per-resource traits: how busy it is on average, how much the day moves it, when it peaks."""

    base: float
    amplitude: float
    peak_minute_of_day: float
    scale: float  # size of the resource, for byte and capacity metrics


@functools.lru_cache(maxsize=4096)
def _profile(seed: int, key: str) -> _Profile:
    return _Profile(
        base=0.15 + 0.25 * _unit_hash(seed, key, "base"),
        amplitude=0.2 + 0.35 * _unit_hash(seed, key, "amplitude"),
        peak_minute_of_day=1440 * _unit_hash(seed, key, "peak"),
        scale=0.5 + 1.5 * _unit_hash(seed, key, "scale"),
    )


def _load(profile: _Profile, minute: datetime) -> float:
    """Return the resource's busy-ness in [0, 1] at this minute (the daily cycle)."""
    minute_of_day = minute.hour * 60 + minute.minute
    cycle = 0.5 + 0.5 * math.cos(2 * math.pi * (minute_of_day - profile.peak_minute_of_day) / 1440)
    return min(1.0, profile.base + profile.amplitude * cycle)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


# What a busy resource of average size does per minute, by CloudWatch unit: the shape of any
# catalogue metric without a dedicated profile below, so a metric added to the catalogue gets
# plausible data with no change here.
_UNIT_BASE = {"Bytes": 3e7, "Count": 1000.0, "Count/Second": 20.0, "Bytes/Second": 5e5, "Seconds": 0.5}


def _by_unit(unit: str, load: float, noise: float, scale: float, busy: float) -> float:
    """Return a value for any metric from its unit: percentages and latencies follow the load."""
    if unit == "Percent":
        return round(_clamp(10.0 + 60.0 * load + 8.0 * (noise - 0.5), 1.0, 95.0), 2)
    if unit == "Milliseconds":
        return round(3.0 + 3.0 * load + 1.5 * noise, 2)
    return float(round(_UNIT_BASE.get(unit, 100.0) * scale * busy * (0.85 + 0.3 * noise), 2))


_EC2_BASE = {"NetworkIn": 4e7, "NetworkOut": 2.5e7, "DiskReadOps": 900.0, "DiskWriteOps": 1500.0}


def _ec2_value(
    spec: MetricSpec, role: Role, load: float, noise: float, scale: float, incident: bool
) -> float:
    metric = spec.metric_name
    if metric == "CPUUtilization":
        if incident:
            return round(91.0 + 8.0 * noise, 2)
        if role is Role.IDLE:
            return round(0.3 + 2.2 * noise, 2)
        return round(_clamp(8.0 + 60.0 * load + 8.0 * (noise - 0.5), 1.0, 85.0), 2)
    if metric.startswith("StatusCheckFailed"):
        return 0.0
    busy = 3.0 if incident else (0.01 if role is Role.IDLE else load)
    if metric not in _EC2_BASE:
        return _by_unit(spec.unit, 0.02 if role is Role.IDLE else load, noise, scale, busy)
    return float(round(_EC2_BASE[metric] * scale * busy * (0.85 + 0.3 * noise)))


def _ecs_value(spec: MetricSpec, load: float, noise: float, scale: float) -> float:
    if spec.metric_name == "CPUUtilization":
        return round(_clamp(12.0 + 55.0 * load + 8.0 * (noise - 0.5), 1.0, 95.0), 2)
    if spec.metric_name == "MemoryUtilization":
        return round(_clamp(30.0 + 25.0 * load + 4.0 * (noise - 0.5), 1.0, 95.0), 2)
    return _by_unit(spec.unit, load, noise, scale, load)


# Throttled requests per minute during an incident, per operation (low, high).
_THROTTLES = {"GetItem": (10, 50), "PutItem": (40, 200), "Query": (5, 30)}
_LATENCY_MS = {"GetItem": 2.5, "PutItem": 4.5}


def _dynamodb_value(spec: MetricSpec, load: float, noise: float, scale: float, incident: bool) -> float:
    metric, operation = spec.metric_name, spec.operation
    if metric == "ThrottledRequests":
        if not incident:
            return 0.0
        low, high = _THROTTLES.get(operation or "", (5, 30))
        return float(low + round((high - low) * noise))
    if metric == "SuccessfulRequestLatency":
        latency = _LATENCY_MS.get(operation or "", 3.5) + 3.0 * load + 1.5 * noise
        return round(latency * (2.5 if incident else 1.0), 2)
    busy = 1.6 if incident else 0.3 + 0.7 * load
    if metric in {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"}:
        base = 3000.0 if metric == "ConsumedReadCapacityUnits" else 1200.0
        # Capacity units come in halves (eventually consistent reads cost 0.5).
        return round(base * scale * busy * (0.9 + 0.2 * noise) * 2) / 2
    return _by_unit(spec.unit, load, noise, scale, busy)


def expected_value(
    *,
    seed: int,
    simulated: SimulatedResource,
    spec: MetricSpec,
    minute: datetime,
    incidents: IncidentSchedule,
) -> float | None:
    """Return the value the sandbox writes for one series at one minute, or None if it writes none."""
    if simulated.role is Role.STOPPED:
        return None
    minute = floor_minute(minute)
    profile = _profile(seed, simulated.key)
    load = _load(profile, minute)
    noise = _unit_hash(seed, simulated.key, spec.series_name, int(minute.timestamp()))
    incident = simulated.role is Role.INCIDENT and incidents.active(minute)
    resource_type = simulated.resource.resource_type
    if resource_type is ResourceType.EC2_INSTANCE:
        return _ec2_value(spec, simulated.role, load, noise, profile.scale, incident)
    if resource_type is ResourceType.ECS_SERVICE:
        return _ecs_value(spec, load, noise, profile.scale)
    if resource_type is ResourceType.DYNAMODB_TABLE:
        return _dynamodb_value(spec, load, noise, profile.scale, incident)
    return _by_unit(spec.unit, load, noise, profile.scale, load)


def minutes_between(start: datetime, end: datetime) -> list[datetime]:
    """Return the minute starts in `[start, end)` (both floored to the minute)."""
    first, last = floor_minute(start), floor_minute(end)
    return [first + i * MINUTE for i in range((last - first) // MINUTE)]


def metric_entries(
    *,
    seed: int,
    resources: Iterable[SimulatedResource],
    minutes: Sequence[datetime],
    incidents: IncidentSchedule,
) -> dict[str, list[dict[str, Any]]]:
    """Return the PutMetricData entries of these resources and minutes, grouped by namespace."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for simulated in resources:
        for spec in specs_for(simulated.resource.resource_type):
            dimensions = [{"Name": k, "Value": v} for k, v in spec.dimensions(simulated.resource).items()]
            entries = by_namespace.setdefault(spec.namespace, [])
            for minute in minutes:
                value = expected_value(
                    seed=seed, simulated=simulated, spec=spec, minute=minute, incidents=incidents
                )
                if value is not None:
                    entries.append(
                        {
                            "MetricName": spec.metric_name,
                            "Dimensions": dimensions,
                            "Timestamp": minute,
                            "Value": value,
                            "Unit": spec.unit,
                        }
                    )
    return by_namespace


def _chunks(entries: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for offset in range(0, len(entries), size):
        yield entries[offset : offset + size]


def put_metric_entries(*, cloudwatch: Any, by_namespace: dict[str, list[dict[str, Any]]]) -> int:
    """Write entries with as few PutMetricData calls as the 1000-entry limit allows; return the count."""
    written = 0
    for namespace, entries in by_namespace.items():
        for chunk in _chunks(entries, MAX_PUT_METRIC_DATA_ENTRIES):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
            written += len(chunk)
    return written


def write_minutes(
    *,
    region: str,
    seed: int,
    resources: Sequence[SimulatedResource],
    minutes: Sequence[datetime],
    incidents: IncidentSchedule,
    cloudwatch: Any | None = None,
) -> int:
    """Put every catalogue datapoint of `resources` for `minutes` into one region; return the count."""
    if not minutes:
        return 0
    client = cloudwatch or aws.client("cloudwatch", region)
    by_namespace = metric_entries(seed=seed, resources=resources, minutes=minutes, incidents=incidents)
    written = put_metric_entries(cloudwatch=client, by_namespace=by_namespace)
    log.debug(
        "sandbox_metrics_written", region=region, datapoints=written, first=minutes[0], last=minutes[-1]
    )
    return written
