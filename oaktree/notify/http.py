"""POSTing JSON to a notification endpoint, with HTTP failures turned into `DeliveryError`s.

429 and 5xx are retryable and carry the receiver's `Retry-After`; other 4xx are permanent. A
connection that never opened is safe to retry; a timeout after the request went out may have
been delivered, which the caller must know for channels without an idempotency key (Slack).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from oaktree.notify import DeliveryError

# The longest wait a Retry-After may ask for before it is treated as "much later" (one hour).
MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return a Retry-After header's delay in seconds (it may be seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200]


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    what: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    accepted: tuple[int, ...] = (200, 201, 202, 204),
) -> httpx.Response:
    """POST `payload` as JSON and return the response; raise DeliveryError unless its status is accepted.

    `what` names the receiver in messages (never the URL: it is often the secret).
    """
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise DeliveryError(f"cannot connect to {what} ({type(exc).__name__})", retryable=True) from None
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"{what} did not answer in {timeout:g} s ({type(exc).__name__})",
            retryable=True,
            maybe_delivered=True,
        ) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(
            f"{what}: transport error ({type(exc).__name__})", retryable=True, maybe_delivered=True
        ) from None
    if response.status_code in accepted:
        return response
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if response.status_code == 429:
        raise DeliveryError(
            f"{what} is rate limiting (429); retry after {retry_after or 0:g} s",
            retryable=True,
            retry_after=retry_after,
        )
    if response.status_code >= 500:
        raise DeliveryError(
            f"{what} answered {response.status_code}: {_snippet(response)}",
            retryable=True,
            retry_after=retry_after,
        )
    raise DeliveryError(
        f"{what} refused the message ({response.status_code}): {_snippet(response)}", retryable=False
    )
