"""The one place boto3 clients are made, so tests and the sandbox can point them elsewhere.

Credentials and endpoint come from boto3's standard chain; `AWS_ENDPOINT_URL` (honoured natively
by boto3) is how the sandbox account is reached. Nothing here knows about the sandbox.

A monitored account other than the one the credentials belong to is reached through a role
(`AssumedRole`): its session's credentials come from STS AssumeRole (with the account's external
id), called with the standard chain's credentials, and botocore's refreshable credentials renew
them before they expire (the same machinery a `role_arn` profile uses).
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import EndpointConnectionError, NoCredentialsError

# Connection pool large enough for the per-region fan-out of a flow run.
_CLIENT_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})
_lock = threading.Lock()
# Event handlers registered through `add_event_handler`, replayed on every role session made later.
_event_handlers: list[tuple[str, Any]] = []
_role_sessions: dict[AssumedRole, boto3.session.Session] = {}
# AssumeRole's session name shows in the monitored account's CloudTrail: who read what.
ROLE_SESSION_NAME = "oaktree"


@dataclasses.dataclass(frozen=True, slots=True)
class AssumedRole:
    """A role in a monitored account that OakTree assumes (STS AssumeRole) to read it."""

    role_arn: str
    external_id: str | None = dataclasses.field(default=None, repr=False)

    @property
    def account_id(self) -> str:
        """Return the account the role belongs to (the fifth field of its ARN)."""
        return self.role_arn.split(":")[4]


class _AssumeRoleProvider(CredentialProvider):
    """Hands a role session botocore's deferred, self-refreshing AssumeRole credentials."""

    METHOD = "oaktree-assume-role"
    CANONICAL_NAME = "custom-oaktree-assume-role"

    def __init__(self, role: AssumedRole) -> None:
        super().__init__()
        self._role = role

    def load(self) -> DeferredRefreshableCredentials:
        source = _session().get_credentials()
        if source is None:
            raise NoCredentialsError()
        extra_args: dict[str, Any] = {"RoleSessionName": ROLE_SESSION_NAME}
        if self._role.external_id:
            extra_args["ExternalId"] = self._role.external_id
        fetcher = AssumeRoleCredentialFetcher(
            # STS is called like any other client, so AWS_ENDPOINT_URL and event handlers apply.
            client_creator=_source_client,
            source_credentials=source,
            role_arn=self._role.role_arn,
            extra_args=extra_args,
        )
        # The first AssumeRole happens on the first request; botocore refreshes the credentials
        # 15 minutes before they expire (10 minutes at the latest), under its own lock.
        return DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method=self.METHOD)


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _source_client(service: str, **credentials: Any) -> Any:
    """Return a client of the standard chain's session (STS, for AssumeRole) with these credentials."""
    with _lock:
        return _session().client(service, region_name=default_region(), config=_CLIENT_CONFIG, **credentials)


def _role_session(role: AssumedRole) -> boto3.session.Session:
    """Return the role's session, made on first use (callers hold `_lock`)."""
    session = _role_sessions.get(role)
    if session is None:
        core = botocore.session.Session()
        core.get_component("credential_provider").insert_before("env", _AssumeRoleProvider(role))
        for event_name, handler in _event_handlers:
            core.register(event_name, handler)
        session = _role_sessions[role] = boto3.session.Session(
            botocore_session=core, region_name=_session().region_name
        )
    return session


def _session_for(role: AssumedRole | None) -> boto3.session.Session:
    return _session() if role is None else _role_session(role)


def client(
    service: str, region: str, *, config: Config | None = None, role: AssumedRole | None = None
) -> Any:
    """Return a boto3 client for one service in one region (clients are thread-safe; sessions are not).

    With `role`, the client acts in the role's account with the role's credentials.
    """
    with _lock:  # boto3.Session.client is not thread-safe; the clients it returns are
        return _session_for(role).client(service, region_name=region, config=config or _CLIENT_CONFIG)


def resource(service: str, region: str) -> Any:
    """Return a boto3 resource (used only where its batch helpers are clearer than the client)."""
    with _lock:
        return _session().resource(service, region_name=region, config=_CLIENT_CONFIG)


def caller_account_id(region: str, *, role: AssumedRole | None = None) -> str:
    """Return the account id the credentials (or the role's) act in: STS GetCallerIdentity.

    With a role this is the first call that assumes it, so a role that cannot be assumed fails
    here (ClientError AccessDenied from STS).
    """
    quick = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 2})
    return client("sts", region, config=quick, role=role).get_caller_identity()["Account"]


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
    """Register a botocore event handler on every session (clients made afterwards see it)."""
    with _lock:
        _event_handlers.append((event_name, handler))
        _session().events.register(event_name, handler)
        for session in _role_sessions.values():
            session.events.register(event_name, handler)


def reset_role_sessions() -> None:
    """Forget the role sessions and their credentials: the next client of a role assumes it afresh."""
    with _lock:
        _role_sessions.clear()


def reset_clients() -> None:
    """Forget the cached sessions and handlers, so a changed environment (a test's endpoint) takes effect."""
    _session.cache_clear()
    with _lock:
        _role_sessions.clear()
        _event_handlers.clear()
