"""Rate-limited, counted, throttle-retried calls: every attempt counted, only throttles and 5xx retried."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oaktree.collection.api_calls import ApiCounters, RetryingCaller, retry_reason
from oaktree.collection.ratelimit import TokenBucket


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetMetricData",
    )


class Flaky:
    """A callable that raises the given errors first, then answers."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


def make_caller(counters: ApiCounters, *, max_attempts: int = 4) -> tuple[RetryingCaller, TokenBucket, list]:
    delays: list[float] = []
    bucket = TokenBucket(1000)
    caller = RetryingCaller(
        "GetMetricData", limiter=bucket, counters=counters, max_attempts=max_attempts, sleep=delays.append
    )
    return caller, bucket, delays


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("ThrottlingException", 400, "throttle"),
        ("Throttling", 400, "throttle"),
        ("ProvisionedThroughputExceededException", 400, "throttle"),
        ("SlowDown", 429, "throttle"),
        ("InternalFailure", 500, "server_error"),
        ("ServiceUnavailable", 503, "server_error"),
        ("ValidationError", 400, None),
        ("AccessDenied", 403, None),
    ],
)
def test_retry_reason(code: str, status: int, reason: str | None) -> None:
    assert retry_reason(client_error(code, status)) == reason


def test_throttles_are_counted_and_retried_with_backoff() -> None:
    counters = ApiCounters()
    caller, bucket, delays = make_caller(counters)
    method = Flaky(client_error("ThrottlingException", 400), client_error("InternalFailure", 500))

    assert caller(method, Start=1) == {"ok": True}

    assert method.calls == [{"Start": 1}] * 3
    assert counters.to_dict() == {
        "calls": {"GetMetricData": 3},
        "throttles": {"GetMetricData": 1},
        "server_errors": {"GetMetricData": 1},
    }
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.05 and 0 <= delays[1] <= 0.1  # full jitter under the exponential cap
    assert bucket.rate < bucket.target_rate  # the throttle slowed the bucket; one success earned some back


def test_gives_up_after_max_attempts_and_reraises() -> None:
    counters = ApiCounters()
    caller, _, _ = make_caller(counters, max_attempts=3)
    method = Flaky(*[client_error("ThrottlingException", 400)] * 5)

    with pytest.raises(ClientError, match="ThrottlingException"):
        caller(method)

    assert len(method.calls) == 3
    assert counters.to_dict()["throttles"] == {"GetMetricData": 3}


def test_other_errors_are_raised_at_once() -> None:
    counters = ApiCounters()
    caller, _, delays = make_caller(counters)
    method = Flaky(client_error("AccessDenied", 403))

    with pytest.raises(ClientError, match="AccessDenied"):
        caller(method)

    assert len(method.calls) == 1 and delays == []
    assert counters.to_dict()["calls"] == {"GetMetricData": 1}


def test_counters_merge_and_survive_pickling() -> None:
    first, second = ApiCounters(), ApiCounters()
    first.count("calls", "GetMetricData")
    second.count("calls", "GetMetricData")
    second.count("throttles", "BatchWriteItem")

    first.add(pickle.loads(pickle.dumps(second)))

    assert first.to_dict() == {
        "calls": {"GetMetricData": 2},
        "throttles": {"BatchWriteItem": 1},
        "server_errors": {},
    }
