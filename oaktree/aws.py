"""The one place boto3 clients are made, so tests and the sandbox can point them elsewhere.

Credentials and endpoint come from boto3's standard chain; `AWS_ENDPOINT_URL` (honoured natively
by boto3) is how the sandbox account is reached. Nothing here knows about the sandbox.
"""

from __future__ import annotations

import functools
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, NoCredentialsError

# Connection pool large enough for the per-region fan-out of a flow run.
_CLIENT_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})
_lock = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def client(service: str, region: str, *, config: Config | None = None) -> Any:
    """Return a boto3 client for one service in one region (clients are thread-safe; sessions are not)."""
    with _lock:  # boto3.Session.client is not thread-safe; the clients it returns are
        return _session().client(service, region_name=region, config=config or _CLIENT_CONFIG)


def resource(service: str, region: str) -> Any:
    """Return a boto3 resource (used only where its batch helpers are clearer than the client)."""
    with _lock:
        return _session().resource(service, region_name=region, config=_CLIENT_CONFIG)


def check_reachable(region: str) -> None:
    """Fail fast (EndpointConnectionError, NoCredentialsError) when AWS cannot be reached at all.

    STS GetCallerIdentity needs no permission, so it tests the endpoint and the credentials only.
    boto3 asks for credentials before it connects, so when there are none the endpoint is tried
    too: a sandbox that is not running is then reported as unreachable, which is the real fault.
    """
    quick = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 1})
    sts = client("sts", region, config=quick)
    try:
        sts.get_caller_identity()
    except NoCredentialsError:
        endpoint = urlsplit(sts.meta.endpoint_url)
        try:
            address = (endpoint.hostname, endpoint.port or (443 if endpoint.scheme == "https" else 80))
            socket.create_connection(address, timeout=3).close()
        except OSError:
            raise EndpointConnectionError(endpoint_url=sts.meta.endpoint_url) from None
        raise


def frozen_credentials() -> Any | None:
    """Return the standard chain's current credentials (access key, secret, token), or None."""
    credentials = _session().get_credentials()
    return credentials.get_frozen_credentials() if credentials is not None else None


def default_region(fallback: str = "us-east-1") -> str:
    """Return the region the standard chain configures (AWS_REGION, AWS_DEFAULT_REGION, profile)."""
    return _session().region_name or fallback


def endpoint_url(service: str) -> str:
    """Return the endpoint boto3 resolves for `service` (AWS_ENDPOINT_URL and friends honoured)."""
    return client(service, default_region()).meta.endpoint_url


def request_id(exc: BaseException) -> str | None:
    """Return AWS's request id of a failed call (what AWS support asks for); None if no request was made."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return response.get("ResponseMetadata", {}).get("RequestId")


def add_event_handler(event_name: str, handler: Any) -> None:
    """Register a botocore event handler on the shared session (clients made afterwards see it)."""
    _session().events.register(event_name, handler)


def reset_clients() -> None:
    """Forget the cached session, so a changed environment (a test's endpoint) takes effect."""
    _session.cache_clear()
