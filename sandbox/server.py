"""Start the sandbox AWS account: a moto server on 127.0.0.1, a seeded fleet, live CloudWatch data.

Everything is created and written through ordinary boto3 clients from `oaktree.aws` while
`AWS_ENDPOINT_URL` points at the server, so the rest of OakTree reaches the sandbox through the
standard credential and endpoint chain and never knows it is one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from moto.server import ThreadedMotoServer

from oaktree import aws
from oaktree.config import Settings
from oaktree.logs import get_logger
from oaktree.storage.tables import ensure_tables
from sandbox import cloudwatch_index
from sandbox.fleet import Fleet, create_region_fleet
from sandbox.metric_generator import IncidentSchedule, floor_minute, minutes_between, write_minutes

log = get_logger(__name__)

SANDBOX_HOST = "127.0.0.1"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
# Write a minute a few seconds after it ends, as CloudWatch makes a datapoint visible after its period.
_LIVE_WRITE_DELAY_SECONDS = 2.0
# Other sandbox accounts are reached as production reaches a monitored account: a role of this
# name (moto's STS lets any role be assumed) with this external id.
SANDBOX_READ_ROLE = "OakTreeRead"
SANDBOX_EXTERNAL_ID = "oaktree-sandbox"


def sandbox_role(account_id: str) -> aws.AssumedRole:
    """Return the role OakTree assumes to read another sandbox account."""
    return aws.AssumedRole(f"arn:aws:iam::{account_id}:role/{SANDBOX_READ_ROLE}", SANDBOX_EXTERNAL_ID)


class SandboxPortInUseError(Exception):
    """The sandbox's port is already taken; the message is one line for the operator."""


def point_clients_at(endpoint_url: str) -> dict[str, str | None]:
    """Send every later boto3 client (via `oaktree.aws` or not) to `endpoint_url`.

    Sets `AWS_ENDPOINT_URL`, and throwaway credentials if none are in the environment (moto
    accepts any), then drops `oaktree.aws`'s cached session. Returns the previous values of the
    variables it changed, for `restore_environment`.
    """
    changes = {ENDPOINT_VARIABLE: endpoint_url}
    if "AWS_ACCESS_KEY_ID" not in os.environ:
        changes.update(_FAKE_CREDENTIALS)
    previous = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    aws.reset_clients()
    return previous


def restore_environment(previous: Mapping[str, str | None]) -> None:
    """Put back the variables `point_clients_at` changed."""
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    aws.reset_clients()


def _claim_port(port: int) -> int:
    """Return `port` (or a free one for 0) after checking that nothing listens on it.

    ThreadedMotoServer.start() waits forever if its server thread cannot bind, so the check comes
    first. It sets SO_REUSEADDR like werkzeug does, so a port in TIME_WAIT still counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((SANDBOX_HOST, port))
        except OSError as exc:
            raise SandboxPortInUseError(
                f"port {port} on {SANDBOX_HOST} is in use ({exc.strerror}); choose another with --port"
            ) from None
        return probe.getsockname()[1]


def _moto_api(endpoint_url: str, path: str) -> None:
    request = urllib.request.Request(f"{endpoint_url}/moto-api/{path}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


class LiveMetricWriter:
    """Writes each newly completed minute of the fleet's metrics, from a daemon thread."""

    def __init__(
        self,
        *,
        fleet: Fleet,
        next_minute: datetime,
        cloudwatch_clients: Mapping[str, Any],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        other_accounts: Sequence[tuple[Fleet, Mapping[str, Any]]] = (),
    ) -> None:
        # (fleet, CloudWatch client per region) of every account written to, the own one first.
        self._accounts = [(fleet, dict(cloudwatch_clients)), *((f, dict(c)) for f, c in other_accounts)]
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.next_minute = next_minute

    def write_due_minutes(self, now: datetime) -> int:
        """Write every minute completed between the last write and `now`; return the datapoints written."""
        due = minutes_between(self.next_minute, now)
        written = 0
        for fleet, clients in self._accounts:
            for region, region_fleet in fleet.regions.items():
                written += write_minutes(
                    region=region,
                    seed=fleet.seed,
                    resources=region_fleet.resources,
                    minutes=due,
                    incidents=fleet.incidents,
                    cloudwatch=clients[region],
                )
        if due:
            self.next_minute = due[-1] + timedelta(minutes=1)
            log.info("sandbox_minute_written", minute=due[-1], datapoints=written)
        return written

    def _seconds_until_next_write(self) -> float:
        now = self._clock()
        next_boundary = floor_minute(now) + timedelta(minutes=1)
        return (next_boundary - now).total_seconds() + _LIVE_WRITE_DELAY_SECONDS

    def _run(self) -> None:
        while not self._stop.wait(self._seconds_until_next_write()):
            self.write_due_minutes(self._clock())

    @property
    def running(self) -> bool:
        """Return True while the writing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start writing in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="sandbox-live-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a write in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Sandbox:
    """A running sandbox account; stop it with `.stop()` or by leaving its `with` block."""

    def __init__(
        self,
        *,
        server: ThreadedMotoServer,
        port: int,
        fleet: Fleet,
        previous_environment: Mapping[str, str | None],
        writer: LiveMetricWriter | None,
        account_id: str = "",
        other_fleets: Mapping[str, Fleet] | None = None,
    ) -> None:
        self._server = server
        self._previous_environment = previous_environment
        self._stopped = False
        self.port = port
        self.endpoint_url = f"http://{SANDBOX_HOST}:{port}"
        self.fleet = fleet
        self.writer = writer
        # The account the sandbox's own credentials act in, and the fleets of the other accounts.
        self.account_id = account_id
        self.other_fleets = dict(other_fleets or {})

    def accounts_setting(self) -> str:
        """Return OAKTREE_ACCOUNTS (JSON) for every sandbox account: the own one, then the others by role."""
        regions = list(self.fleet.regions)
        accounts: list[dict[str, Any]] = [{"id": self.account_id, "regions": regions}]
        for account_id in self.other_fleets:
            role = sandbox_role(account_id)
            accounts.append(
                {
                    "id": account_id,
                    "role_arn": role.role_arn,
                    "external_id": role.external_id,
                    "regions": regions,
                }
            )
        return json.dumps(accounts)

    def client_environment(self) -> dict[str, str]:
        """Return the variables another terminal exports to reach this sandbox (moto takes any keys)."""
        return {
            ENDPOINT_VARIABLE: self.endpoint_url,
            **_FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": next(iter(self.fleet.regions)),
        }

    def summary(self) -> dict[str, Any]:
        """Return the endpoint, the environment to reach it, regions and fleet as a JSON-ready dict."""
        return {
            "endpoint_url": self.endpoint_url,
            "port": self.port,
            "environment": self.client_environment(),
            "regions": list(self.fleet.regions),
            **self.fleet.summary(),
        }

    def stop(self) -> None:
        """Stop writing, stop the server and restore the endpoint variables (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self.writer is not None:
            self.writer.stop()
        self._server.stop()
        restore_environment(self._previous_environment)
        log.info("sandbox_stopped", endpoint_url=self.endpoint_url)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _populate(
    *,
    endpoint_url: str,
    regions: Sequence[str],
    seed: int,
    settings: Settings,
    start: datetime,
    backfill_hours: float,
    role: aws.AssumedRole | None = None,
    reset: bool = True,
) -> tuple[Fleet, dict[str, Any], str]:
    """Reset and seed moto, create the fleet and OakTree's tables, backfill; return fleet, clients, account.

    With `role`, populate that role's account instead (no reset, no OakTree tables: those live in
    the own account).
    """
    # The server shares moto's in-process state: start from an empty account, and seed moto's
    # id generator so the same seed gives the same instance ids, subnet ids and ARNs.
    if reset:
        _moto_api(endpoint_url, "reset")
        _moto_api(endpoint_url, f"seed?a={seed}")
    account_id = aws.caller_account_id(regions[0], role=role)
    cloudwatch_index.install(account_id=account_id, regions=list(regions))
    if role is None:
        ensure_tables(
            metrics_table=settings.metrics_table,
            events_table=settings.events_table,
            region=settings.storage_region,
        )
    fleet = Fleet(
        seed=seed,
        incidents=IncidentSchedule.around(start),
        regions={region: create_region_fleet(seed=seed, region=region, role=role) for region in regions},
    )
    clients = {region: aws.client("cloudwatch", region, role=role) for region in regions}
    backfill = minutes_between(start - timedelta(hours=backfill_hours), start)
    for region, region_fleet in fleet.regions.items():
        written = write_minutes(
            region=region,
            seed=seed,
            resources=region_fleet.resources,
            minutes=backfill,
            incidents=fleet.incidents,
            cloudwatch=clients[region],
        )
        log.info(
            "sandbox_backfilled",
            account_id=account_id,
            region=region,
            minutes=len(backfill),
            datapoints=written,
        )
    return fleet, clients, account_id


def start_sandbox(
    *,
    port: int,
    regions: Sequence[str],
    seed: int,
    settings: Settings,
    backfill_hours: float = 6,
    live: bool = True,
    now: datetime | None = None,
    other_accounts: Sequence[str] = (),
) -> Sandbox:
    """Start the sandbox account on 127.0.0.1:`port` (0 picks a free port), populated and backfilled.

    `other_accounts` (12-digit ids) get the same fleet in the same regions, created and written
    through the role OakTree assumes to read them (`sandbox_role`); `Sandbox.accounts_setting()`
    is the OAKTREE_ACCOUNTS that watches them all.

    Leaves `AWS_ENDPOINT_URL` pointing at it until `.stop()`. With `live`, a daemon thread writes
    each newly completed minute. `now` fixes the start time for tests (use it with live=False: a
    live writer would catch up from `now` to the wall clock); the default is the clock.
    """
    if not regions:
        raise ValueError("the sandbox needs at least one region")
    if backfill_hours < 0:
        raise ValueError("backfill_hours cannot be negative")
    started = time.monotonic()
    port = _claim_port(port)
    for noisy in ("werkzeug", "moto"):  # one log line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=SANDBOX_HOST, port=port, verbose=False)
    server.start()
    endpoint_url = f"http://{SANDBOX_HOST}:{port}"
    previous_environment = point_clients_at(endpoint_url)
    start = now or datetime.now(UTC)
    try:
        fleet, clients, account_id = _populate(
            endpoint_url=endpoint_url,
            regions=regions,
            seed=seed,
            settings=settings,
            start=start,
            backfill_hours=backfill_hours,
        )
        others = {
            other: _populate(
                endpoint_url=endpoint_url,
                regions=regions,
                seed=seed,
                settings=settings,
                start=start,
                backfill_hours=backfill_hours,
                role=sandbox_role(other),
                reset=False,
            )
            for other in other_accounts
        }
    except BaseException:
        server.stop()
        restore_environment(previous_environment)
        raise
    writer = None
    if live:
        writer = LiveMetricWriter(
            fleet=fleet,
            next_minute=floor_minute(start),
            cloudwatch_clients=clients,
            other_accounts=[
                (other_fleet, other_clients) for other_fleet, other_clients, _ in others.values()
            ],
        )
        writer.start()
    log.info(
        "sandbox_started",
        endpoint_url=endpoint_url,
        regions=list(regions),
        seconds=round(time.monotonic() - started, 2),
    )
    return Sandbox(
        server=server,
        port=port,
        fleet=fleet,
        previous_environment=previous_environment,
        writer=writer,
        account_id=account_id,
        other_fleets={other: other_fleet for other, (other_fleet, _, _) in others.items()},
    )
