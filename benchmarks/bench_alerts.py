"""Alert benchmarks: one vectorised pass against a per-rule query loop, peak memory, latency on the sandbox.

(a) 10,000 rules over 1,000 resources (10 rules each on 5 series: CPU Average and Maximum,
    NetworkIn, NetworkOut, DiskReadOps; 1-minute periods, 2 of 3), evaluated by `run_pass`
    (one warehouse query for all 5,000 series, `evaluate` per target, one transaction), against
    the naive engine: one warehouse query per rule, then the same `evaluate`. The first pass
    writes every rule-resource's first transition (10,000 rows); later passes are the steady
    state. The loop is timed on a sample of rules (each rule costs the same query) and scaled.
(b) Peak memory of a steady-state pass of (a), in a fresh process (peak RSS minus the
    imports-only baseline).
(c) Alert latency on the sandbox: an incident starts at the next minute but one; collection
    and evaluation run every minute, as the deployments do; the clock stops when the webhook
    sink receives the alert. CloudWatch alarms would take period x datapoints to alarm plus
    their own evaluation delay (about a minute) after the data lands.

Run: `uv run python -m benchmarks bench_alerts` (`--skip-sandbox` skips (c), which takes ~7 minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from benchmarks.bench_collection import _high_water_mib, markdown
from models import Alert
from oaktree import aws, db
from oaktree.alerts.engine import expand_targets, run_pass
from oaktree.alerts.evaluation import PriorState, evaluate, period_start
from oaktree.alerts.rules import ComparisonOperator, Rule
from oaktree.alerts.store import load_rules, write_rule
from oaktree.config import Settings, load_settings
from oaktree.discovery.store import save_inventory
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import configure_logging
from oaktree.warehouse import connect, read
from oaktree.warehouse.points import write_points
from oaktree.warehouse.schema import POINT_SCHEMA, Resolution

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MINUTES = 30
ACCOUNT_ID = "123456789012"
SERIES = (
    ("CPUUtilization", "Average", "Percent", (70.0, 95.0)),
    ("CPUUtilization", "Maximum", "Percent", (80.0, 99.0)),
    ("NetworkIn", "Sum", "Bytes", (5e7, 9e7)),
    ("NetworkOut", "Sum", "Bytes", (4e7, 8e7)),
    ("DiskReadOps", "Sum", "Count", (1500.0, 3000.0)),
)


# (a) One pass against a query per rule ---------------------------------------------------------


def build_estate(settings: Settings, resources: int, rules_per_resource: int) -> list[Rule]:
    """Store `resources` instances with 30 minutes of the five series, and the rules; return the rules."""
    fleet = [
        Resource(f"i-{n:017x}", f"arn:i-{n}", ResourceType.EC2_INSTANCE, "us-east-1", f"host-{n}", "running")
        for n in range(resources)
    ]
    save_inventory(settings, fleet)
    rng = np.random.default_rng(5)
    tables = []
    start = NOW - timedelta(minutes=MINUTES + 2)
    stamps = pa.array([start + timedelta(minutes=m) for m in range(MINUTES)], pa.timestamp("ms", tz="UTC"))
    for metric, statistic, unit, (low, _high) in SERIES:
        count = resources * MINUTES
        values = rng.gamma(4.0, low / 6.0, count)
        columns = {
            "resource_id": np.repeat([r.resource_id for r in fleet], MINUTES),
            "resource_type": np.full(count, "ec2_instance"),
            "region": np.full(count, "us-east-1"),
            "metric_name": np.full(count, metric),
            "statistic": np.full(count, statistic),
            "unit": np.full(count, unit),
            "ts": pa.concat_arrays([stamps] * resources),
            "value": values,
            "account_id": np.full(count, ACCOUNT_ID),
        }
        tables.append(pa.Table.from_pydict(columns, schema=POINT_SCHEMA))
    write_points(settings, pa.concat_tables(tables))

    rules = []
    for resource in fleet:
        for index in range(rules_per_resource):
            metric, statistic, _unit, thresholds = SERIES[index % len(SERIES)]
            rules.append(
                Rule(
                    name=f"{resource.name}-{index}",
                    resource_type="ec2_instance",
                    resource_id=resource.resource_id,
                    metric_name=metric,
                    statistic=statistic,
                    period=60,
                    evaluation_periods=3,
                    datapoints_to_alarm=2,
                    threshold=thresholds[index // len(SERIES) % 2],
                    comparison_operator=ComparisonOperator.GREATER,
                )
            )
    db.upgrade(settings.sqlalchemy_url)
    with db.session_scope(settings=settings) as session:
        for rule in rules:
            row = Alert()
            write_rule(row, rule)
            session.add(row)
    with db.session_scope(settings=settings) as session:
        return load_rules(session)


def per_rule_loop(settings: Settings, rules: list[Rule], *, now: datetime) -> float:
    """Return the seconds the naive engine takes: one warehouse query per rule, then `evaluate`."""
    settle = timedelta(seconds=settings.alert_settle_seconds)
    with connect(settings=settings) as connection:
        inventory = read.inventory(connection)
        started = time.perf_counter()
        for rule in rules:
            [target] = expand_targets([rule], inventory)
            length = timedelta(seconds=rule.period)
            end = period_start(now - settle, length)
            keys = pd.DataFrame(
                [(target.resource_id, rule.metric_name, rule.source_statistic)],
                columns=["resource_id", "metric_name", "statistic"],
            )
            frame = read.series_for_keys(
                connection,
                keys=keys,
                start=end - length * rule.evaluation_range,
                end=end,
                resolution=Resolution.MINUTE,
                period_seconds=rule.period,
            )
            values = dict(zip(frame["ts"].dt.to_pydatetime(), frame["value"], strict=True))
            evaluate(rule, values, PriorState(), now, settle=settle)
        return time.perf_counter() - started


def settings_in(directory: Path) -> Settings:
    return load_settings(data_dir=directory, database_url=f"sqlite:///{directory / 'app.db'}")


def pass_versus_loop(
    resources: int, rules_per_resource: int, loop_sample: int
) -> tuple[list[dict[str, Any]], Path]:
    """Return the comparison rows, and the data dir (kept for the memory probe)."""
    directory = Path(tempfile.mkdtemp(prefix="oaktree-bench-alerts-"))
    settings = settings_in(directory)
    rules = build_estate(settings, resources, rules_per_resource)
    factory = db.session_factory(settings.sqlalchemy_url)
    now = NOW
    first = run_pass(settings=settings, factory=factory, now=now)
    steady = []
    for _ in range(3):
        started = time.perf_counter()
        report = run_pass(settings=settings, factory=factory, now=now)
        steady.append((time.perf_counter() - started, report))
    seconds, report = sorted(steady, key=lambda pair: pair[0])[1]
    # A long-lived evaluator keeps its warehouse connection; attaching the lake is then paid once.
    with connect(settings=settings) as kept_open:
        kept = []
        for _ in range(3):
            started = time.perf_counter()
            run_pass(settings=settings, factory=factory, now=now, warehouse=kept_open)
            kept.append(time.perf_counter() - started)
    kept_seconds = statistics.median(kept)
    sample = random.Random(3).sample(rules, min(loop_sample, len(rules)))
    loop_seconds = per_rule_loop(settings, sample, now=now) * len(rules) / len(sample)
    read_and_evaluate = report.seconds["read"] + report.seconds["evaluate"]
    rows = [
        {
            "engine": "one pass, first run (writes 10,000 first transitions)",
            "rules": f"{len(rules):,}",
            "warehouse queries": first.queries,
            "seconds": f"{sum(first.seconds.values()):.2f}",
            "read + evaluate s": f"{first.seconds['read'] + first.seconds['evaluate']:.2f}",
            "vs loop": f"{loop_seconds / sum(first.seconds.values()):.0f}x",
        },
        {
            "engine": "one pass, steady state, opening the warehouse (median of 3)",
            "rules": f"{len(rules):,}",
            "warehouse queries": report.queries,
            "seconds": f"{seconds:.2f}",
            "read + evaluate s": f"{read_and_evaluate:.2f}",
            "vs loop": f"{loop_seconds / seconds:.0f}x",
        },
        {
            "engine": "one pass, steady state, warehouse connection kept open (median of 3)",
            "rules": f"{len(rules):,}",
            "warehouse queries": report.queries,
            "seconds": f"{kept_seconds:.2f}",
            "read + evaluate s": f"{read_and_evaluate:.2f}",
            "vs loop": f"{loop_seconds / kept_seconds:.0f}x",
        },
        {
            "engine": f"query per rule (timed on {len(sample)} rules, scaled)",
            "rules": f"{len(rules):,}",
            "warehouse queries": f"{len(rules):,}",
            "seconds": f"{loop_seconds:.1f}",
            "read + evaluate s": f"{loop_seconds:.1f}",
            "vs loop": "1x",
        },
    ]
    alarms = sum(t["to"] == "ALARM" for t in first.transitions)
    print(
        f"Steady-state pass phases (s): {report.seconds}; "
        f"first pass: {len(first.transitions):,} transitions, {alarms:,} to ALARM.\n"
    )
    return rows, directory


# (b) Peak memory ------------------------------------------------------------------------------


def _memory_probe(directory: str) -> None:
    settings = settings_in(Path(directory))
    factory = db.session_factory(settings.sqlalchemy_url)
    before = _high_water_mib()
    started = time.perf_counter()
    report = run_pass(settings=settings, factory=factory, now=NOW)
    elapsed = time.perf_counter() - started
    after = _high_water_mib()
    print(json.dumps({"targets": report.targets, "seconds": round(elapsed, 2), "baseline_mib": before,
                      "peak_mib": after, "pass_mib": after - before}))  # fmt: skip


def peak_memory(directory: Path) -> dict[str, Any]:
    """Return the peak RSS of a fresh process running one steady-state pass over the estate in `directory`."""
    probe = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_alerts", "--memory-probe", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(probe.stdout.strip().splitlines()[-1])


# (c) Latency on the sandbox -------------------------------------------------------------------


def sandbox_latency(region: str = "us-east-1") -> dict[str, Any]:
    """Run the sandbox with an incident starting soon; return when it began and when the alert arrived."""
    from cli.alert_commands import evaluate_once
    from oaktree.alerts.rules_file import apply_rules, load_rules_file
    from oaktree.auth.roles import Principal
    from oaktree.collection.pipeline import collect_once
    from oaktree.discovery.pipeline import discover_all
    from sandbox.metric_generator import IncidentSchedule, floor_minute, minutes_between, write_minutes
    from sandbox.server import LiveMetricWriter, start_sandbox
    from sandbox.sinks import MailSink, WebhookSink

    directory = Path(tempfile.mkdtemp(prefix="oaktree-bench-latency-"))
    with MailSink() as mail, WebhookSink() as webhook:
        os.environ.update(
            {
                "OAKTREE_SMTP_HOST": "127.0.0.1",
                "OAKTREE_SMTP_PORT": str(mail.port),
                "OAKTREE_SMTP_STARTTLS": "false",
                "OAKTREE_DEMO_WEBHOOK_URL": f"{webhook.url}/oaktree",
            }
        )
        settings = load_settings(
            data_dir=directory, regions=(region,), database_url=f"sqlite:///{directory / 'app.db'}"
        )
        now = datetime.now(UTC)
        sandbox = start_sandbox(
            port=0, regions=[region], seed=42, settings=settings, backfill_hours=0, live=False
        )
        try:
            incident_start = floor_minute(now) + timedelta(minutes=2)
            fleet = dataclasses.replace(sandbox.fleet, incidents=IncidentSchedule(first_start=incident_start))
            clients = {region: aws.client("cloudwatch", region)}
            write_minutes(
                region=region,
                seed=fleet.seed,
                resources=fleet.regions[region].resources,
                minutes=minutes_between(now - timedelta(minutes=15), now),
                incidents=fleet.incidents,
                cloudwatch=clients[region],
            )
            writer = LiveMetricWriter(fleet=fleet, next_minute=floor_minute(now), cloudwatch_clients=clients)
            writer.start()
            discover_all(settings)
            db.upgrade(settings.sqlalchemy_url)
            with db.session_scope(settings=settings) as session:
                apply_rules(
                    session=session,
                    principal=Principal.system("bench"),
                    rules_file=load_rules_file(ROOT / "sandbox" / "rules.yaml"),
                )
            received_at = None
            deadline = incident_start + timedelta(minutes=12)
            while received_at is None and datetime.now(UTC) < deadline:
                # The deployments' cadence: collection, then evaluation, each once a minute.
                next_minute = floor_minute(datetime.now(UTC)) + timedelta(minutes=1, seconds=5)
                time.sleep(max(0.0, (next_minute - datetime.now(UTC)).total_seconds()))
                collect_once(settings=settings)
                evaluate_once(settings)
                for request in webhook.received(accepted_only=True):
                    body = request["body"]
                    if (
                        isinstance(body, dict)
                        and body.get("rule") == "incident-cpu"
                        and body.get("to_state") == "ALARM"
                    ):
                        received_at = datetime.fromisoformat(request["received_at"])
            writer.stop()
        finally:
            sandbox.stop()
    latency = (received_at - incident_start).total_seconds() if received_at else None
    return {
        "rule": "incident-cpu (60 s period, 2 of 3 > 90 %)",
        "incident began": f"{incident_start:%H:%M:%S}",
        "webhook received": f"{received_at:%H:%M:%S}" if received_at else "not within 12 minutes",
        "minutes from first breaching minute": f"{latency / 60:.2f}" if latency is not None else "-",
        "target": "< 5",
        "CloudWatch (60 s x 2 + ~1 min evaluation delay, after the data lands)": ">= 3",
    }


def main(argv: list[str] | None = None) -> None:
    """Run the alert benchmarks and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-probe", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--resources", type=int, default=1_000)
    parser.add_argument("--rules-per-resource", type=int, default=10)
    parser.add_argument("--loop-sample", type=int, default=400, help="rules the per-rule loop is timed on")
    parser.add_argument("--skip-sandbox", action="store_true", help="skip the ~7-minute latency run")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    if args.memory_probe:
        _memory_probe(args.memory_probe)
        return
    total = args.resources * args.rules_per_resource
    print(f"## (a) {total:,} rules over {args.resources:,} resources: one pass against a query per rule\n")
    rows, directory = pass_versus_loop(args.resources, args.rules_per_resource, args.loop_sample)
    print(markdown(rows) + "\n")
    print("## (b) Peak memory of one steady-state pass (fresh process)\n")
    print(markdown([peak_memory(directory)]) + "\n")
    if not args.skip_sandbox:
        print("## (c) From the incident's first breaching minute to the webhook sink's receipt (sandbox)\n")
        print(markdown([sandbox_latency()]) + "\n")


if __name__ == "__main__":
    main()
