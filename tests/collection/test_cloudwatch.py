"""Reading one batch: NextToken pages followed, PartialData asked again, points converted exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.stub import Stubber

from oaktree.collection.api_calls import single_attempt_client
from oaktree.collection.cloudwatch import SeriesPoints, fetch_batch, points_table
from oaktree.collection.planning import MetricBatch, Window, epoch_ms, series_of
from oaktree.warehouse.schema import POINT_SCHEMA
from tests.collection.estate import WINDOW_END, instance

T = [WINDOW_END - timedelta(minutes=3 - n) for n in range(3)]
MS = [epoch_ms(moment) for moment in T]


def batch_of(count: int) -> MetricBatch:
    series = series_of([instance("us-east-1", 1)])[:count]
    return MetricBatch(Window(60, epoch_ms(T[0]), epoch_ms(WINDOW_END)), tuple(series))


def answer(query_id: str, status: str, points: list[tuple[int, float]]) -> dict[str, Any]:
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [T[index] for index, _ in points],
        "Values": [value for _, value in points],
        "StatusCode": status,
    }


def test_next_token_pages_are_followed_and_partial_data_asked_again() -> None:
    batch = batch_of(3)
    client = single_attempt_client("cloudwatch", "us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    answer("q0", "PartialData", [(0, 1.5), (1, 2.5)]),
                    answer("q1", "Complete", [(0, 7.0)]),
                    answer("q2", "PartialData", []),
                ],
                "NextToken": "page-2",
            },
            batch.request(),
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    answer("q0", "Complete", [(2, 3.5)]),
                    answer("q2", "PartialData", [(0, 9.0)]),
                ]
            },
            {**batch.request(), "NextToken": "page-2"},
        )
        # q2 is still partial after the last page: asked again on its own, the whole window.
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [answer("q2", "PartialData", [(0, 9.0), (1, 9.5)])]},
            batch.request([2]),
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [answer("q2", "Complete", [(0, 9.0), (1, 9.5), (2, 10.0)])]},
            batch.request([2]),
        )

        result = fetch_batch(batch, client.get_metric_data)
        stub.assert_no_pending_responses()

    assert [(p.timestamps_ms, p.values) for p in result.points] == [
        (MS, [1.5, 2.5, 3.5]),
        (MS[:1], [7.0]),
        (MS, [9.0, 9.5, 10.0]),  # the re-ask replaced the partial answer: no duplicates
    ]
    assert result.incomplete == set()
    assert result.partial_results == 4
    assert result.requests == 4
    assert result.datapoints == 7


def test_series_still_partial_or_failed_are_incomplete() -> None:
    batch = batch_of(3)
    client = single_attempt_client("cloudwatch", "us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    answer("q0", "Complete", [(0, 1.0)]),
                    answer("q1", "InternalError", []),
                    answer("q2", "PartialData", [(0, 2.0)]),
                ]
            },
            batch.request(),
        )
        for _ in range(2):
            stub.add_response(
                "get_metric_data",
                {"MetricDataResults": [answer("q2", "PartialData", [(0, 2.0)])]},
                batch.request([2]),
            )

        result = fetch_batch(batch, client.get_metric_data, refetches=2)
        stub.assert_no_pending_responses()

    assert result.incomplete == {1, 2}
    assert [(p.timestamps_ms, p.values) for p in result.points] == [
        (MS[:1], [1.0]),
        ([], []),
        (MS[:1], [2.0]),
    ]


def test_points_table_has_the_point_schema_and_exact_values() -> None:
    ec2 = series_of([instance("us-east-1", 1)])
    table = points_table(
        [
            SeriesPoints(ec2[0], MS[:2], [0.1, 1e-300]),
            SeriesPoints(ec2[1], [], []),
            SeriesPoints(ec2[2], MS[2:], [123456789.123456789]),
        ]
    )

    assert table.schema == POINT_SCHEMA
    assert table.to_pylist() == [
        {
            "resource_id": "i-useast100000001",
            "resource_type": "ec2_instance",
            "region": "us-east-1",
            "metric_name": metric,
            "statistic": statistic,
            "unit": unit,
            "ts": moment,
            "value": value,
            "account_id": "123456789012",
        }
        for metric, statistic, unit, moment, value in [
            ("CPUUtilization", "Average", "Percent", T[0], 0.1),
            ("CPUUtilization", "Average", "Percent", T[1], 1e-300),
            ("NetworkIn", "Sum", "Bytes", T[2], 123456789.123456789),
        ]
    ]
    assert points_table([]).num_rows == 0
    assert points_table([]).schema == POINT_SCHEMA
