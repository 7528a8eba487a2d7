"""Planning: series from the inventory, windows from watermarks, requests packed 500 full."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oaktree.collection.planning import (
    MAX_QUERIES_PER_REQUEST,
    MetricBatch,
    Window,
    align_down,
    epoch_ms,
    pack_batches,
    plan_windows,
    series_of,
)
from tests.collection.estate import NOW, WINDOW_END, dynamodb_table, instance

END_MS = epoch_ms(WINDOW_END)
NOW_MS = epoch_ms(NOW)


def test_series_cover_every_metric_and_statistic_of_the_catalogue() -> None:
    series = series_of([instance("us-east-1", 1), dynamodb_table("us-east-1", "orders")])

    ec2 = [s for s in series if s.resource.resource_id.startswith("i-")]
    assert sorted((s.spec.series_name, s.statistic) for s in ec2) == [
        ("CPUUtilization", "Average"),
        ("CPUUtilization", "Maximum"),
        ("DiskReadOps", "Sum"),
        ("DiskWriteOps", "Sum"),
        ("NetworkIn", "Sum"),
        ("NetworkOut", "Sum"),
        ("StatusCheckFailed", "Maximum"),
    ]
    latency = next(s for s in series if s.spec.series_name == "SuccessfulRequestLatency:PutItem")
    assert latency.query("q3") == {
        "Id": "q3",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/DynamoDB",
                "MetricName": "SuccessfulRequestLatency",
                "Dimensions": [
                    {"Name": "TableName", "Value": "orders"},
                    {"Name": "Operation", "Value": "PutItem"},
                ],
            },
            "Period": 60,
            "Stat": "Average",
        },
        "ReturnData": True,
    }


def test_align_down_to_the_period() -> None:
    assert align_down(NOW_MS, 60) == END_MS
    assert align_down(END_MS, 60) == END_MS
    assert align_down(epoch_ms(datetime(2026, 11, 24, 12, 7, 10, tzinfo=UTC)), 300) == epoch_ms(
        datetime(2026, 11, 24, 12, 5, tzinfo=UTC)
    )


def test_new_series_backfill_the_lookback_and_known_ones_reread_the_overlap() -> None:
    fresh, known, current = series_of([instance("us-east-1", n) for n in range(3)])[:7:3]
    watermarks = {known.key: END_MS - 10 * 60_000, current.key: END_MS + 3 * 60_000}

    groups = plan_windows(
        [fresh, known, current], watermarks, now_ms=NOW_MS, overlap_minutes=3, lookback_minutes=180
    )

    assert groups == {
        Window(60, END_MS - 180 * 60_000, END_MS): [fresh],
        Window(60, END_MS - 13 * 60_000, END_MS): [known],
    }


def test_a_watermark_older_than_cloudwatch_retention_starts_at_the_retention() -> None:
    (one,) = series_of([instance("us-east-1", 1)])[:1]
    groups = plan_windows([one], {one.key: 0}, now_ms=NOW_MS, overlap_minutes=3, lookback_minutes=180)
    assert list(groups) == [Window(60, END_MS - 15 * 86_400_000, END_MS)]


def test_1200_series_are_packed_into_three_requests() -> None:
    # 172 instances x 7 series = 1,204; keep exactly 1,200.
    series = series_of([instance("us-east-1", n) for n in range(172)])[:1200]
    groups = plan_windows(series, {}, now_ms=NOW_MS, overlap_minutes=3, lookback_minutes=10)

    batches = pack_batches(groups)

    assert [len(batch.series) for batch in batches] == [500, 500, 200]
    request = batches[0].request()
    assert len(request["MetricDataQueries"]) == MAX_QUERIES_PER_REQUEST
    assert request["StartTime"] == datetime(2026, 11, 24, 11, 50, tzinfo=UTC)
    assert request["EndTime"] == WINDOW_END
    assert len({query["Id"] for query in request["MetricDataQueries"]}) == 500


def test_windows_are_packed_separately() -> None:
    series = series_of([instance("us-east-1", n) for n in range(2)])
    watermarks = {one.key: END_MS - 5 * 60_000 for one in series[:3]}
    batches = pack_batches(
        plan_windows(series, watermarks, now_ms=NOW_MS, overlap_minutes=3, lookback_minutes=30)
    )
    assert [(b.window.start_ms, len(b.series)) for b in batches] == [
        (END_MS - 30 * 60_000, 11),
        (END_MS - 8 * 60_000, 3),
    ]


def test_more_than_500_queries_per_request_is_refused() -> None:
    series = series_of([instance("us-east-1", n) for n in range(72)])
    window = Window(60, END_MS - 60_000, END_MS)
    with pytest.raises(ValueError, match="1 to 500"):
        MetricBatch(window, tuple(series[:501]))
    with pytest.raises(ValueError, match="between 1 and 500"):
        pack_batches({window: series}, max_queries=501)
