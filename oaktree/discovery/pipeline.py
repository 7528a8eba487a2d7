"""One discovery run: every account, region and service, isolated failures, inventory diff, events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.accounts import AccountRegion, AccountUnavailable, account_regions, resolve_account_id
from oaktree.config import Settings
from oaktree.discovery import store
from oaktree.discovery.changes import carry_first_seen, diff_inventories
from oaktree.discovery.sources import SERVICE_SOURCES, SERVICE_TYPES
from oaktree.eventlog import record_events
from oaktree.events import Event, Severity
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import get_logger

log = get_logger(__name__)

# The "service" of a failure to reach an account at all (its role could not be assumed): every
# resource type of the account is kept as last seen, none is reported gone.
ACCOUNT_ACCESS = "sts"
ACCOUNT_UNAVAILABLE = "account_unavailable"


@dataclasses.dataclass(frozen=True, slots=True)
class SourceFailure:
    """A service in a region (of an account) that could not be read, and why."""

    region: str
    service: str
    error_code: str
    message: str
    account_id: str | None = None


@dataclasses.dataclass
class RegionDiscovery:
    """What one region yielded: resources from the services that answered, failures from the rest."""

    region: str
    resources: list[Resource]
    failures: list[SourceFailure]
    # The account read (None: the credentials' own account, whose id could not be learnt).
    account_id: str | None = None


@dataclasses.dataclass
class DiscoveryReport:
    """The outcome of a discovery run across regions."""

    resources: list[Resource]
    events: list[Event]
    failures: list[SourceFailure]
    events_written: int = 0

    @property
    def unavailable_accounts(self) -> list[dict[str, str | None]]:
        """Return each account that could not be reached (its role not assumed), once, with the reason."""
        seen: dict[str | None, dict[str, str | None]] = {}
        for failure in self.failures:
            if failure.service == ACCOUNT_ACCESS and failure.account_id not in seen:
                seen[failure.account_id] = {
                    "account_id": failure.account_id,
                    "error_code": failure.error_code,
                    "message": failure.message,
                }
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: counts per type and region, resources, changes, failures."""
        counts: dict[str, dict[str, int]] = {}
        by_account: dict[str, int] = {}
        for resource in self.resources:
            per_region = counts.setdefault(resource.resource_type.value, {})
            per_region[resource.region] = per_region.get(resource.region, 0) + 1
            account = resource.account_id or "unknown"
            by_account[account] = by_account.get(account, 0) + 1
        return {
            "resources_total": len(self.resources),
            "resources_by_type_and_region": counts,
            "resources_by_account": dict(sorted(by_account.items())),
            "unavailable_accounts": self.unavailable_accounts,
            "resources": [
                {
                    "resource_id": r.resource_id,
                    "account_id": r.account_id,
                    "resource_type": r.resource_type.value,
                    "region": r.region,
                    "name": r.name,
                    "state": r.state,
                }
                for r in self.resources
            ],
            "changes": [
                {
                    "resource_id": e.resource_id,
                    "event_type": e.event_type,
                    "severity": e.severity,
                    "message": e.message,
                }
                for e in self.events
            ],
            "events_written": self.events_written,
            "failures": [dataclasses.asdict(f) for f in self.failures],
        }


def _error_code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def discover_region(
    region: str, now: datetime | None = None, *, scope: AccountRegion | None = None
) -> RegionDiscovery:
    """Read every service of one region of one account; a failing service is recorded, the others read.

    `scope` names the account (and role); without it, the credentials' own account. An account
    that cannot be reached (its role not assumed) is one failure of service `sts`.
    """
    now = now or datetime.now(UTC)
    scope = scope or AccountRegion(None, region)
    try:
        account_id = resolve_account_id(scope)
    except AccountUnavailable as exc:
        failure = SourceFailure(region, ACCOUNT_ACCESS, exc.error_code, exc.message, scope.account_id)
        log.error(
            "discovery_account_unavailable",
            **dataclasses.asdict(failure),
            request_id=aws.request_id(exc.__cause__) if exc.__cause__ else None,
        )
        return RegionDiscovery(region=region, resources=[], failures=[failure], account_id=scope.account_id)
    resources: list[Resource] = []
    failures: list[SourceFailure] = []
    for service, source in SERVICE_SOURCES.items():
        try:
            resources.extend(source(scope, now, account_id))
        # The isolation boundary of discovery: any AWS error (AccessDenied, throttling after
        # botocore's retries, an endpoint that is down) fails this service in this region only.
        except (ClientError, BotoCoreError) as exc:
            failure = SourceFailure(region, service, _error_code(exc), str(exc), account_id)
            log.warning(
                "discovery_source_failed", **dataclasses.asdict(failure), request_id=aws.request_id(exc)
            )
            failures.append(failure)
    return RegionDiscovery(region=region, resources=resources, failures=failures, account_id=account_id)


def _same_account(resource: Resource, account_id: str | None) -> bool:
    # None on either side is the credentials' own account before its id was known: the only
    # account of a deployment that configures none, so it matches.
    return account_id is None or resource.account_id is None or resource.account_id == account_id


def merge_regions(
    previous: list[Resource], discovered: list[RegionDiscovery]
) -> tuple[list[Resource], list[SourceFailure]]:
    """Return the new inventory: fresh results, plus the previous entries of sources that failed.

    A source that failed says nothing about its resources, so they are kept as last seen rather
    than reported gone.
    """
    fresh: dict[str, Resource] = {}
    failures: list[SourceFailure] = []
    for region_result in discovered:
        for resource in region_result.resources:
            other = fresh.setdefault(resource.resource_id, resource)
            if other is not resource:  # ids are unique across accounts; keep the first, say so
                log.warning(
                    "discovery_duplicate_resource_id",
                    resource_id=resource.resource_id,
                    account_ids=[other.account_id, resource.account_id],
                )
        failures.extend(region_result.failures)
    kept: list[Resource] = []
    for region_result in discovered:
        for failure in region_result.failures:
            kept_types = SERVICE_TYPES.get(failure.service, tuple(ResourceType))
            kept.extend(
                r
                for r in previous
                if r.region == failure.region
                and r.resource_type in kept_types
                and _same_account(r, region_result.account_id)
            )
    # Accounts and regions no longer configured are not "gone": keep them out of this run's diff.
    kept.extend(
        r
        for r in previous
        if not any(r.region == result.region and _same_account(r, result.account_id) for result in discovered)
    )
    # A kept resource may be kept twice (two failed services of its account) or be fresh already.
    resources = dict(fresh)
    for resource in kept:
        resources.setdefault(resource.resource_id, resource)
    return list(resources.values()), failures


def record_discovery(
    settings: Settings, discovered: list[RegionDiscovery], now: datetime | None = None
) -> DiscoveryReport:
    """Diff the regions' results against the stored inventory, write events, save the inventory."""
    now = now or datetime.now(UTC)
    previous = store.load_inventory(settings)
    merged, failures = merge_regions(previous, discovered)
    current = carry_first_seen(previous, merged)
    events = diff_inventories(previous, current, now)
    report = DiscoveryReport(resources=current, events=events, failures=failures)
    events.extend(_account_unavailable_events(report, now))
    stats = record_events(settings, events)
    # The inventory is saved after the events, so a crash in between re-detects the same changes.
    store.save_inventory(settings, current)
    log.info(
        "discovery_recorded",
        resources=len(current),
        events=len(events),
        failures=len(failures),
    )
    report.events_written = stats.items_written
    return report


def account_resource_id(account_id: str | None) -> str:
    """Return the resource id an account's own events are filed under (its root ARN)."""
    return f"arn:aws:iam::{account_id or 'unknown'}:root"


def _account_unavailable_events(report: DiscoveryReport, now: datetime) -> list[Event]:
    return [
        Event(
            resource_id=account_resource_id(account["account_id"]),
            resource_type="aws_account",
            region="global",
            event_type=ACCOUNT_UNAVAILABLE,
            severity=Severity.CRITICAL,
            message=f"account {account['account_id'] or '(own credentials)'} could not be read: "
            f"{account['error_code']}: {account['message']} (its resources are kept as last seen)",
            timestamp=now,
            details={"error_code": account["error_code"]},
            account_id=account["account_id"],
        )
        for account in report.unavailable_accounts
    ]


def discover_all(settings: Settings, now: datetime | None = None) -> DiscoveryReport:
    """Run discovery in every configured account and region and record it (the CLI path; flows fan out)."""
    now = now or datetime.now(UTC)
    return record_discovery(
        settings,
        [discover_region(scope.region, now, scope=scope) for scope in account_regions(settings)],
        now,
    )
