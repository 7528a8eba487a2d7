"""AWS calls that are rate-limited, counted and retried on throttling, with counts that are exact.

Clients here are made with botocore's own retries switched off (one attempt): botocore would
retry a throttled call silently, so neither the rate limiter nor the counters would see it.
Instead every attempt draws a token from the (region, API) bucket, counts as one call, and a
throttled or 5xx attempt is counted and retried with exponential backoff and full jitter.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError

from oaktree import aws
from oaktree.collection.ratelimit import TokenBucket
from oaktree.logs import get_logger
from oaktree.storage.batch_writer import backoff_delay

T = TypeVar("T")

log = get_logger(__name__)

# Error codes AWS services use for "slow down" (CloudWatch, DynamoDB, and the generic ones).
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
    }
)

SINGLE_ATTEMPT = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 1})


def single_attempt_client(service: str, region: str, *, role: aws.AssumedRole | None = None) -> Any:
    """Return a client whose calls botocore does not retry (the caller retries and counts)."""
    return aws.client(service, region, config=SINGLE_ATTEMPT, role=role)


def retry_reason(exc: ClientError) -> str | None:
    """Return "throttle" or "server_error" if the failed call is worth retrying, else None."""
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLE_CODES or status == 429:
        return "throttle"
    if status >= 500:
        return "server_error"
    return None


class ApiCounters:
    """Thread-safe counts per operation: calls (every attempt), throttles, retried server errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.server_errors: Counter[str] = Counter()

    def __getstate__(self) -> dict[str, Counter[str]]:
        # Reports cross process boundaries (Prefect task results); a lock does not pickle.
        return {"calls": self.calls, "throttles": self.throttles, "server_errors": self.server_errors}

    def __setstate__(self, state: dict[str, Counter[str]]) -> None:
        self.__init__()  # type: ignore[misc]
        self.calls.update(state["calls"])
        self.throttles.update(state["throttles"])
        self.server_errors.update(state["server_errors"])

    def count(self, kind: str, operation: str) -> None:
        """Add one to a counter ("calls", "throttles" or "server_errors") of an operation."""
        with self._lock:
            getattr(self, kind)[operation] += 1

    def add(self, other: ApiCounters) -> None:
        """Accumulate another set of counts into this one."""
        with self._lock:
            self.calls.update(other.calls)
            self.throttles.update(other.throttles)
            self.server_errors.update(other.server_errors)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """Return the counts as plain dicts (operation -> count), sorted by operation."""
        with self._lock:
            return {
                "calls": dict(sorted(self.calls.items())),
                "throttles": dict(sorted(self.throttles.items())),
                "server_errors": dict(sorted(self.server_errors.items())),
            }


class RetryingCaller:
    """Makes one API's calls: a token per attempt, every attempt counted, throttles retried."""

    def __init__(
        self,
        operation: str,
        *,
        limiter: TokenBucket,
        counters: ApiCounters,
        max_attempts: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.operation = operation
        self._limiter = limiter
        self._counters = counters
        self._max_attempts = max_attempts
        self._sleep = sleep

    def __call__(self, method: Callable[..., T], **kwargs: Any) -> T:
        """Call `method(**kwargs)`, retrying throttling and 5xx answers up to `max_attempts` times."""
        for attempt in range(self._max_attempts):
            self._limiter.acquire()
            self._counters.count("calls", self.operation)
            try:
                result = method(**kwargs)
            except ClientError as exc:
                reason = retry_reason(exc)
                if reason is None:
                    raise
                self._counters.count("throttles" if reason == "throttle" else "server_errors", self.operation)
                if reason == "throttle":
                    self._limiter.on_throttle()
                if attempt + 1 == self._max_attempts:
                    log.warning(
                        "api_call_gave_up",
                        operation=self.operation,
                        attempts=self._max_attempts,
                        request_id=aws.request_id(exc),
                    )
                    raise
                self._sleep(backoff_delay(attempt))
                continue
            self._limiter.on_success()
            return result
        raise AssertionError("unreachable: the loop returns or raises")


class CountedDynamoDB:
    """The DynamoDB calls collection makes, each through its RetryingCaller.

    `oaktree.storage.batch_writer.write_items` takes it as its client: it only calls
    `batch_write_item`, and UnprocessedItems stay that writer's business.
    """

    def __init__(self, client: Any, *, write: RetryingCaller, read: RetryingCaller) -> None:
        self._client = client
        self._write = write
        self._read = read

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._write(self._client.batch_write_item, **kwargs)

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._read(self._client.batch_get_item, **kwargs)
