"""One evaluation pass over every enabled rule: one warehouse read for all series, then `evaluate` per target.

A pass, holding the alerts lock for its whole transaction:
1. loads the enabled rules, their channels, the current states and the active silences;
2. expands fleet selectors against the inventory (one query) into targets (rule x resource);
3. reads every series the targets need in one query per period length (one more for
   percentile rules), aggregated into the rules' periods by the warehouse;
4. calls `evaluate` on each target, up to the newest period that is settled and that collection
   has reached in the target's region (a collection gap is never taken for missing data);
5. writes, in one transaction, each transition (reason and datapoints) with its outbox rows and
   the new states. A pass re-run over the same window finds the states already changed and
   writes nothing, so retries and re-runs never notify twice.

Notifications follow `notified_state`, what the channels last heard: ALARM they have not heard
of is a trigger (a new episode after a recovery), OK after ALARM a resolve, INSUFFICIENT_DATA
after ALARM a "no data" notice. Silences and flapping hold notifications (transitions are still
recorded, marked); when the hold ends the same rule sends one catch-up if the state moved on.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import AlertChannel, AlertState, AlertTransition, NotificationChannel
from models.base import utcnow
from oaktree.alerts.bands import read_bands
from oaktree.alerts.evaluation import Evaluation, PriorState, evaluate, period_start
from oaktree.alerts.outbox import Kind, dedup_key, enqueue
from oaktree.alerts.rules import PERCENTILES, AlarmState, Rule
from oaktree.alerts.silences import SilenceSpec
from oaktree.alerts.store import load_rules, load_silences, lock_alerts
from oaktree.config import Settings
from oaktree.events import Event, Severity
from oaktree.logs import get_logger
from oaktree.warehouse import read
from oaktree.warehouse.lake import connect
from oaktree.warehouse.schema import Resolution

log = get_logger(__name__)

OK, ALARM, INSUFFICIENT = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
EVENT_TYPE = "alarm_state_changed"
UNKNOWN_REGION = "unknown"
_EMPTY: dict[datetime, float] = {}
MAX_ARTIFACT_ROWS = 200  # a new rule on a large fleet makes thousands of first transitions
SeriesKey = tuple[str, str, str, int]  # resource_id, metric_name, rule statistic, period seconds


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One rule on one resource."""

    rule: Rule
    resource_id: str
    resource_type: str
    region: str
    name: str
    tags: Mapping[str, str]
    account_id: str | None = None

    @property
    def series_key(self) -> SeriesKey:
        return (self.resource_id, self.rule.metric_name, self.rule.statistic, self.rule.period)


@dataclasses.dataclass
class PassReport:
    """What one pass evaluated and changed."""

    evaluated_at: datetime
    rules: int = 0
    targets: int = 0
    series: int = 0
    queries: int = 0
    transitions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notifications_enqueued: int = 0
    notifications_held: int = 0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_markdown(self) -> str:
        """Return the pass as the flow run's artifact."""
        lines = [
            "| rules | targets | series read | queries | transitions | notifications queued | held |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            f"| {self.rules} | {self.targets} | {self.series} | {self.queries} | {len(self.transitions)} "
            f"| {self.notifications_enqueued} | {self.notifications_held} |",
        ]
        if self.transitions:
            lines += ["", "| rule | resource | from | to | reason |", "| --- | --- | --- | --- | --- |"]
            for t in self.transitions[:MAX_ARTIFACT_ROWS]:
                reason = t["reason"].replace("|", "/")
                lines.append(f"| {t['rule']} | {t['resource_id']} | {t['from']} | {t['to']} | {reason} |")
            if len(self.transitions) > MAX_ARTIFACT_ROWS:
                lines.append(f"\n{len(self.transitions) - MAX_ARTIFACT_ROWS} more: `oaktree alerts history`.")
        return "\n".join(lines)


def expand_targets(rules: Sequence[Rule], inventory: pd.DataFrame) -> list[Target]:
    """Return every (rule, resource) pair: a rule's own resource, or each resource its selector covers."""
    by_id: dict[str, tuple[str, str, str, Mapping[str, str]]] = {}
    by_type: dict[str, list[tuple[str, str, str, Mapping[str, str]]]] = defaultdict(list)
    for resource_id, resource_type, region, name, tags in zip(
        inventory["resource_id"].tolist(),
        inventory["resource_type"].tolist(),
        inventory["region"].tolist(),
        inventory["name"].tolist(),
        inventory["tags"].tolist(),
        strict=True,
    ):
        record = (resource_id, region, name, tags or {})
        by_id[resource_id] = (resource_type, region, name, tags or {})
        by_type[resource_type].append(record)
    # Inventories saved before accounts were kept have no account; such resources match no account filter.
    accounts: dict[str, str | None] = dict(
        zip(
            inventory["resource_id"].tolist(),
            inventory["account_id"].tolist() if "account_id" in inventory else [None] * len(inventory),
            strict=True,
        )
    )
    targets: list[Target] = []
    covered: dict[tuple[str, Any], list[tuple[str, str, str, Mapping[str, str]]]] = {}
    for rule in rules:
        if rule.resource_id is not None:
            resource_type, region, name, tags = by_id.get(
                rule.resource_id, (rule.resource_type, UNKNOWN_REGION, rule.resource_id, {})
            )
            targets.append(
                Target(
                    rule,
                    rule.resource_id,
                    rule.resource_type,
                    region,
                    name,
                    tags,
                    accounts.get(rule.resource_id),
                )
            )
            continue
        selector = rule.selector
        assert selector is not None
        cache_key = (rule.resource_type, selector)
        if cache_key not in covered:
            covered[cache_key] = [
                record
                for record in by_type.get(rule.resource_type, [])
                if selector.matches(record[1], record[3], accounts.get(record[0]))
            ]
        targets.extend(
            Target(rule, resource_id, rule.resource_type, region, name, tags, accounts.get(resource_id))
            for resource_id, region, name, tags in covered[cache_key]
        )
    return targets


def data_through(connection: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, datetime]:
    """Return, per region, the end of the newest minute collection has stored (within the last day)."""
    frame = read.freshness(connection, now=now, since=now - timedelta(days=1))
    return {
        region: newest.to_pydatetime() + timedelta(minutes=1)
        for region, newest in zip(frame["region"], frame["newest"], strict=True)
        if not pd.isna(newest)
    }


def _frame_to_series(
    frame: pd.DataFrame, period: int, *, value_column: str = "value", statistic: str | None = None
) -> dict[SeriesKey, dict[datetime, float]]:
    """Return {series key: {period start: value}} from a long frame of one period length.

    The key's statistic is the frame's `statistic` column, or `statistic` when given (percentiles).
    """
    series: dict[SeriesKey, dict[datetime, float]] = defaultdict(dict)
    if frame.empty:
        return series
    # A pass reads a few distinct period starts for thousands of series: convert each start once.
    codes, starts = pd.factorize(frame["ts"])
    moments = [start.to_pydatetime() for start in starts]
    statistics = frame["statistic"].tolist() if statistic is None else [statistic] * len(frame)
    for resource_id, metric_name, named, code, value in zip(
        frame["resource_id"].tolist(),
        frame["metric_name"].tolist(),
        statistics,
        codes.tolist(),
        frame[value_column].tolist(),
        strict=True,
    ):
        series[(resource_id, metric_name, named, period)][moments[code]] = value
    return series


def read_period_values(
    connection: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    *,
    start_of: Mapping[int, datetime],
    end_of: Mapping[int, datetime],
) -> tuple[dict[SeriesKey, dict[datetime, float]], int]:
    """Return every target's period values and the number of queries: one per period length (and kind).

    `start_of`/`end_of` give, per period length, the range to read (aligned to periods).
    """
    groups: dict[tuple[int, bool], set[tuple[str, str, str]]] = defaultdict(set)
    for target in targets:
        rule = target.rule
        groups[(rule.period, rule.is_percentile)].add(
            (target.resource_id, rule.metric_name, rule.source_statistic)
        )
    values: dict[SeriesKey, dict[datetime, float]] = {}
    for (period, percentile), keys in groups.items():
        frame_keys = pd.DataFrame(sorted(keys), columns=["resource_id", "metric_name", "statistic"])
        if percentile:
            frame = read.period_percentiles(
                connection,
                keys=frame_keys,
                start=start_of[period],
                end=end_of[period],
                period_seconds=period,
                percentiles=[int(name[1:]) for name in PERCENTILES],
            )
            for name in PERCENTILES:
                values.update(_frame_to_series(frame, period, value_column=name, statistic=name))
        else:
            frame = read.series_for_keys(
                connection,
                keys=frame_keys,
                start=start_of[period],
                end=end_of[period],
                resolution=Resolution.MINUTE,
                period_seconds=period,
            )
            values.update(_frame_to_series(frame, period))
    return values, len(groups)


@dataclasses.dataclass(slots=True)
class StoredState:
    """A rule-resource's row of `alert_states` as a pass reads and changes it (plain data, not ORM)."""

    alert_id: int
    resource_id: str
    resource_type: str
    region: str
    state: str
    since: datetime
    reason: str
    episode: int
    notified_state: str
    flapping: bool
    recent_transitions: list[str]
    stored: bool = True  # False until inserted

    def prior(self) -> PriorState:
        return PriorState(
            _STATES[self.state],
            tuple(datetime.fromisoformat(moment) for moment in self.recent_transitions),
            self.flapping,
        )


_STATES = {state.value: state for state in AlarmState}
_STATE_COLUMNS = (
    AlertState.alert_id,
    AlertState.resource_id,
    AlertState.resource_type,
    AlertState.region,
    AlertState.state,
    AlertState.since,
    AlertState.reason,
    AlertState.episode,
    AlertState.notified_state,
    AlertState.flapping,
)


def load_states(
    session: Session, *, rule_ids: Sequence[int] | None = None, flap_rule_ids: Sequence[int] = ()
) -> dict[tuple[int, str], StoredState]:
    """Return the stored states (of some rules); the flap windows' transitions only for rules that flap."""
    query = select(*_STATE_COLUMNS)
    if rule_ids is not None:
        query = query.where(AlertState.alert_id.in_(list(rule_ids)))
    states = {
        (row.alert_id, row.resource_id): StoredState(*row, recent_transitions=[])
        for row in session.execute(query)
    }
    if flap_rule_ids:
        recent = session.execute(
            select(AlertState.alert_id, AlertState.resource_id, AlertState.recent_transitions).where(
                AlertState.alert_id.in_(list(flap_rule_ids))
            )
        )
        for alert_id, resource_id, moments in recent:
            if (alert_id, resource_id) in states:
                states[(alert_id, resource_id)].recent_transitions = list(moments or [])
    return states


def _payload(
    target: Target,
    *,
    kind: str,
    from_state: str,
    to_state: str,
    reason: str,
    evaluated_at: datetime,
    datapoints: list[dict[str, Any]],
    key: str,
    episode: int,
) -> dict[str, Any]:
    """Return what a notification says (stored with it, so every retry says the same)."""
    rule = target.rule
    return {
        "kind": kind,
        "rule": rule.name,
        "rule_id": rule.id,
        "resource_id": target.resource_id,
        "resource_name": target.name,
        "resource_type": target.resource_type,
        "region": target.region,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "severity": rule.severity,
        "condition": rule.condition,
        "evaluated_at": evaluated_at.isoformat(),
        "datapoints": datapoints,
        "dedup_key": key,
        "episode": episode,
        "owner": rule.owner,
    }


class _Writer:
    """Applies evaluations: transitions and their outbox rows (ORM, few), states (bulk statements, many)."""

    def __init__(
        self,
        session: Session,
        *,
        states: dict[tuple[int, str], StoredState],
        channels: Mapping[int, list[NotificationChannel]],
        silences: Sequence[SilenceSpec],
        now: datetime,
        report: PassReport,
    ) -> None:
        self.session = session
        self.states = states
        self.channels = channels
        self.silences = silences
        self.now = now
        self.report = report
        self.inserts: list[StoredState] = []
        self.updates: dict[tuple[int, str], StoredState] = {}

    def _latest_transition(self, rule_id: int, resource_id: str) -> AlertTransition | None:
        return self.session.scalars(
            select(AlertTransition)
            .where(AlertTransition.alert_id == rule_id, AlertTransition.resource_id == resource_id)
            .order_by(AlertTransition.id.desc())
            .limit(1)
        ).first()

    def _silenced(self, rule_id: int, target: Target) -> bool:
        return any(
            silence.matches(rule_id=rule_id, resource_id=target.resource_id, tags=target.tags)
            for silence in self.silences
        )

    def apply(self, target: Target, result: Evaluation, *, forced_kind: str | None = None) -> None:
        """Record the outcome of one evaluation (or, with `forced_kind`, of closing an alert)."""
        rule = target.rule
        rule_id = rule.id
        assert rule_id is not None
        row = self.states.get((rule_id, target.resource_id))
        notified = _STATES[row.notified_state] if row else OK
        new_state = result.new_state
        changed = result.changed
        if row is None and not changed:
            return  # a new target still in INSUFFICIENT_DATA: nothing to remember or tell
        if (
            not changed
            and row is not None
            and row.flapping == result.flapping
            and not result.recent_transitions
            and not row.recent_transitions
            and (new_state is notified or (new_state is INSUFFICIENT and notified is not ALARM))
        ):
            return  # the common case: nothing changed and the channels know the state
        silenced = bool(self.silences) and self._silenced(rule_id, target)
        held = forced_kind is None and (silenced or result.flapping)
        reason = result.reason if changed else None
        datapoints: list[dict[str, Any]] | None = None
        transition = None
        if changed:
            datapoints = [point.to_record() for point in result.datapoints_used]
            transition = AlertTransition(
                alert_id=rule_id,
                rule_name=rule.name,
                resource_id=target.resource_id,
                resource_type=target.resource_type,
                region=target.region,
                from_state=result.previous_state.value,
                to_state=new_state.value,
                reason=reason,
                datapoints=datapoints,
                evaluated_at=result.evaluated_at,
                recorded_at=self.now,
                severity=rule.severity,
                silenced=silenced,
                flapping=result.flapping,
            )
            self.session.add(transition)
            self.report.transitions.append(
                {
                    "rule": rule.name,
                    "resource_id": target.resource_id,
                    "from": result.previous_state.value,
                    "to": new_state.value,
                    "reason": reason,
                    "evaluated_at": result.evaluated_at,
                    "silenced": silenced,
                    "flapping": result.flapping,
                }
            )
        episode = row.episode if row else 0
        kind = forced_kind
        if kind is None:
            if new_state is ALARM and notified is not ALARM:
                kind = Kind.TRIGGER
            elif new_state is OK and notified is not OK:
                kind = Kind.RESOLVE
            elif new_state is INSUFFICIENT and notified is ALARM:
                kind = Kind.INSUFFICIENT_DATA
        if kind is not None and held:
            self.report.notifications_held += len(self.channels.get(rule_id, []))
            kind = None
        if kind is not None:
            if kind == Kind.TRIGGER and notified is OK:
                episode += 1
            anchor = transition or self._latest_transition(rule_id, target.resource_id)
            if anchor is not None:
                key = dedup_key(rule_id, target.resource_id, episode)
                payload = _payload(
                    target,
                    kind=kind,
                    from_state=transition.from_state if transition is not None else notified.value,
                    to_state=new_state.value,
                    reason=reason if reason is not None else result.reason,
                    evaluated_at=result.evaluated_at,
                    datapoints=datapoints
                    if datapoints is not None
                    else [p.to_record() for p in result.datapoints_used],
                    key=key,
                    episode=episode,
                )
                rows = enqueue(
                    self.session,
                    transition=anchor,
                    kind=kind,
                    channels=self.channels.get(rule_id, []),
                    payload=payload,
                    key=key,
                    now=self.now,
                )
                self.report.notifications_enqueued += len(rows)
            notified = OK if kind == Kind.RESOLVE else new_state
        if transition is not None:
            transition.episode = episode
        self._store_state(target, row, result, reason, notified, episode)

    def _store_state(
        self,
        target: Target,
        row: StoredState | None,
        result: Evaluation,
        reason: str | None,
        notified: AlarmState,
        episode: int,
    ) -> None:
        recent = [moment.isoformat() for moment in result.recent_transitions]
        rule_id = target.rule.id
        assert rule_id is not None
        if row is None:
            row = StoredState(
                alert_id=rule_id,
                resource_id=target.resource_id,
                resource_type=target.resource_type,
                region=target.region,
                state=result.new_state.value,
                since=result.evaluated_at,
                reason=reason or "",
                episode=episode,
                notified_state=notified.value,
                flapping=result.flapping,
                recent_transitions=recent,
                stored=False,
            )
            self.states[(rule_id, target.resource_id)] = row
            self.inserts.append(row)
            return
        if (
            not result.changed
            and row.flapping == result.flapping
            and row.recent_transitions == recent
            and row.notified_state == notified.value
            and row.episode == episode
        ):
            return
        if result.changed:
            row.state = result.new_state.value
            row.since = result.evaluated_at
            row.reason = reason or ""
        row.resource_type, row.region = target.resource_type, target.region
        row.flapping = result.flapping
        row.recent_transitions = recent
        row.notified_state = notified.value
        row.episode = episode
        if row.stored:
            self.updates[(rule_id, target.resource_id)] = row

    def flush(self) -> None:
        """Write the new and changed states: one INSERT and one UPDATE statement, each for many rows."""
        columns = [field.name for field in dataclasses.fields(StoredState) if field.name != "stored"]
        if self.inserts:
            self.session.execute(
                insert(AlertState),
                [{**{c: getattr(row, c) for c in columns}, "updated_at": self.now} for row in self.inserts],
            )
            for row in self.inserts:
                row.stored = True
            self.inserts = []
        if self.updates:
            self.session.execute(
                update(AlertState),
                [
                    {**{c: getattr(row, c) for c in columns}, "updated_at": self.now}
                    for row in self.updates.values()
                ],
            )
            self.updates = {}
        self.session.flush()


def _channels_by_rule(session: Session) -> dict[int, list[NotificationChannel]]:
    channels: dict[int, list[NotificationChannel]] = defaultdict(list)
    rows = session.execute(
        select(AlertChannel.alert_id, NotificationChannel).join(
            NotificationChannel, NotificationChannel.id == AlertChannel.channel_id
        )
    )
    for alert_id, channel in rows:
        channels[alert_id].append(channel)
    return channels


def close_targets(
    session: Session,
    *,
    rule: Rule,
    reason: str,
    now: datetime,
    resource_ids: Sequence[str] | None = None,
    report: PassReport | None = None,
) -> int:
    """End the alerts of a rule (or of some of its resources) that are not INSUFFICIENT_DATA and quiet.

    Used when a rule is disabled or deleted, or a resource leaves a fleet rule: each gets a
    transition to INSUFFICIENT_DATA and, if its channels heard of an alarm, a resolve, so no
    incident is left open. Returns how many were closed. The caller holds the alerts lock.
    """
    assert rule.id is not None
    states = load_states(session, rule_ids=[rule.id])
    wanted = None if resource_ids is None else set(resource_ids)
    rows = [
        row
        for row in states.values()
        if (wanted is None or row.resource_id in wanted)
        and (row.state != INSUFFICIENT or row.notified_state != OK)
    ]
    if not rows:
        return 0
    writer = _Writer(
        session,
        states=states,
        channels=_channels_by_rule(session),
        silences=(),
        now=now,
        report=report or PassReport(evaluated_at=now),
    )
    for row in rows:
        target = Target(rule, row.resource_id, row.resource_type, row.region, row.resource_id, {})
        result = Evaluation(
            new_state=INSUFFICIENT,
            datapoints_used=(),
            evaluated_at=now,
            previous_state=_STATES[row.state],
            explanation=functools.partial(str, reason),
        )
        notified = _STATES[row.notified_state]
        writer.apply(target, result, forced_kind=Kind.RESOLVE if notified is not OK else None)
    writer.flush()
    return len(rows)


def run_pass(
    *,
    settings: Settings,
    factory: sessionmaker[Session],
    now: datetime | None = None,
    warehouse: duckdb.DuckDBPyConnection | None = None,
) -> PassReport:
    """Evaluate every enabled rule once and record what changed; return the report."""
    now = now or utcnow()
    settle = timedelta(seconds=settings.alert_settle_seconds)
    report = PassReport(evaluated_at=now)
    clock = time.perf_counter()
    own_connection = warehouse is None
    connection = warehouse or connect(settings=settings)
    report.seconds["connect"] = round(time.perf_counter() - clock, 4)
    clock = time.perf_counter()
    try:
        with factory() as session:
            lock_alerts(session)
            rules = load_rules(session, enabled_only=True)
            report.rules = len(rules)
            flapping_rules = [rule.id for rule in rules if rule.flap_transitions and rule.id is not None]
            states = load_states(session, flap_rule_ids=flapping_rules)
            channels = _channels_by_rule(session)
            silences = [silence for silence in load_silences(session) if silence.active(now)]
            report.seconds["load"] = round(time.perf_counter() - clock, 4)

            clock = time.perf_counter()
            inventory = read.inventory(connection)
            targets = expand_targets(rules, inventory)
            through = data_through(connection, now)
            horizon_now = {region: min(now, moment + settle) for region, moment in through.items()}
            start_of: dict[int, datetime] = {}
            end_of: dict[int, datetime] = {}
            earliest = min([now, *horizon_now.values()])
            for rule in rules:
                length = timedelta(seconds=rule.period)
                end_of[rule.period] = period_start(now - settle, length)
                first = period_start(earliest - settle, length) - length * rule.evaluation_range
                start_of[rule.period] = min(start_of.get(rule.period, first), first)
            values, report.queries = read_period_values(connection, targets, start_of=start_of, end_of=end_of)
            bands = read_bands(connection, targets, start_of=start_of, end_of=end_of, baseline_end=now)
            report.queries += bool(bands)
            report.targets, report.series = len(targets), len(values)
            report.seconds["read"] = round(time.perf_counter() - clock, 4)

            clock = time.perf_counter()
            writer = _Writer(
                session, states=states, channels=channels, silences=silences, now=now, report=report
            )
            seen: set[tuple[int, str]] = set()
            for target in targets:
                rule = target.rule
                assert rule.id is not None
                seen.add((rule.id, target.resource_id))
                stored = states.get((rule.id, target.resource_id))
                prior = stored.prior() if stored is not None else PriorState()
                result = evaluate(
                    rule,
                    values.get(target.series_key, _EMPTY),
                    prior,
                    horizon_now.get(target.region, now),
                    settle=settle,
                    bands=bands.get(target.series_key),
                )
                writer.apply(target, result)
            writer.flush()
            if not inventory.empty:
                _close_dropped(session, rules, states, seen, now, report)
            report.seconds["evaluate"] = round(time.perf_counter() - clock, 4)

            clock = time.perf_counter()
            session.commit()
            report.seconds["write"] = round(time.perf_counter() - clock, 4)
    finally:
        if own_connection:
            connection.close()
    log.info(
        "alerts.pass_done",
        rules=report.rules,
        targets=report.targets,
        transitions=len(report.transitions),
        notifications=report.notifications_enqueued,
    )
    return report


def _close_dropped(
    session: Session,
    rules: Sequence[Rule],
    states: Mapping[tuple[int, str], StoredState],
    seen: set[tuple[int, str]],
    now: datetime,
    report: PassReport,
) -> None:
    """Close the alerts of resources a fleet rule no longer covers (gone from the inventory, or retagged)."""
    fleet_rules = {rule.id: rule for rule in rules if rule.resource_id is None}
    dropped: dict[int, list[str]] = defaultdict(list)
    for (rule_id, resource_id), row in states.items():
        gone = rule_id in fleet_rules and (rule_id, resource_id) not in seen
        if gone and (row.state != INSUFFICIENT or row.notified_state != OK):
            dropped[rule_id].append(resource_id)
    for rule_id, resource_ids in dropped.items():
        close_targets(
            session,
            rule=fleet_rules[rule_id],
            reason="no longer covered by the rule (left the inventory or its selector)",
            now=now,
            resource_ids=resource_ids,
            report=report,
        )


EVENT_SEVERITY = {"critical": Severity.CRITICAL, "error": Severity.CRITICAL, "warning": Severity.WARNING}


def transition_event(row: AlertTransition) -> Event:
    """Return a transition as an event; its id derives from the transition's, so a retry overwrites it."""
    severity = EVENT_SEVERITY.get(row.severity, Severity.INFO) if row.to_state == ALARM else Severity.INFO
    return Event(
        resource_id=row.resource_id,
        resource_type=row.resource_type,
        region=row.region,
        event_type=EVENT_TYPE,
        severity=severity,
        message=f"{row.rule_name}: {row.from_state} -> {row.to_state}",
        timestamp=row.evaluated_at,
        details={
            "rule": row.rule_name,
            "rule_id": row.alert_id,
            "transition_id": row.id,
            "from": row.from_state,
            "to": row.to_state,
            "reason": row.reason,
            "datapoints": row.datapoints,
            "silenced": row.silenced,
            "flapping": row.flapping,
        },
        event_id=f"alarm-transition-{row.id}",
    )


def record_transition_events(
    *, factory: sessionmaker[Session], settings: Settings, now: datetime | None = None, limit: int = 5000
) -> int:
    """Store not-yet-recorded transitions in the DynamoDB events table and the warehouse; return how many.

    Runs after the pass committed; a crash between storing and marking stores the same events
    again under the same keys, so nothing is duplicated.
    """
    from oaktree.eventlog import record_events  # the event log pulls in DynamoDB and the lake writer

    with factory() as session:
        rows = list(
            session.scalars(
                select(AlertTransition)
                .where(AlertTransition.event_recorded_at.is_(None))
                .order_by(AlertTransition.id)
                .limit(limit)
            )
        )
        if not rows:
            return 0
        record_events(settings, [transition_event(row) for row in rows])
        session.execute(
            update(AlertTransition)
            .where(AlertTransition.id.in_([row.id for row in rows]))
            .values(event_recorded_at=now or utcnow())
        )
        session.commit()
    return len(rows)
