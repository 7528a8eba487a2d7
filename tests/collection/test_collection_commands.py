"""`oaktree collect --once` and `oaktree rollup`: JSON summaries, one-line errors with exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cli import app
from oaktree.collection.planning import align_down, epoch_ms
from oaktree.config import Settings
from oaktree.discovery.store import save_inventory
from tests.collection.estate import instance, put_points

runner = CliRunner()


def test_collect_once_prints_the_run_as_json_and_rollup_buckets_it(
    collection_settings: Settings, metrics_table: str
) -> None:
    web = instance("us-east-1", 1)
    save_inventory(collection_settings, [web])
    last_minute = datetime.fromtimestamp(align_down(epoch_ms(datetime.now(UTC)), 60) / 1000, UTC)
    moments = [last_minute - timedelta(minutes=n) for n in range(1, 4)]
    put_points(
        "us-east-1", "AWS/EC2", "NetworkIn", {"InstanceId": web.resource_id}, [(m, 100.0) for m in moments]
    )

    result = runner.invoke(app, ["collect", "--once", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["datapoints_stored"] == {"dynamodb": 3, "warehouse": 3}
    assert summary["series"] == 7
    assert summary["api_calls"]["GetMetricData"] == 1
    assert summary["failed_regions"] == []

    rolled = runner.invoke(app, ["rollup", "--json"])
    assert rolled.exit_code == 0, rolled.output
    rollup = json.loads(rolled.stdout)
    assert rollup["changed_series_hours"] >= 1  # the three NetworkIn minutes (one or two hours)
    assert rollup["buckets"]["5m"] >= 1


def test_collect_refuses_a_region_that_is_not_configured(collection_settings: Settings) -> None:
    result = runner.invoke(app, ["collect", "--once", "--region", "eu-west-3"])

    assert result.exit_code == 2
    assert result.stderr.strip() == "oaktree: error: region(s) not configured in OAKTREE_REGIONS: eu-west-3"


def test_rollup_refuses_a_bad_since(collection_settings: Settings) -> None:
    result = runner.invoke(app, ["rollup", "--since", "yesterday"])

    assert result.exit_code == 2
    assert result.stderr.strip() == "oaktree: error: --since must be an ISO date or time, got 'yesterday'"
