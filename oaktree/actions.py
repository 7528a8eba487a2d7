"""Resource actions: start, stop and reboot an EC2 instance, set an ECS service's desired count.

Every action checks the caller's role first (`act_on_resources`: operators and admins), then
calls AWS in the resource's region, then records what happened: an audit entry (success or the
AWS error) in the application database and, on success, an event (DynamoDB and the warehouse)
on the resource's timeline. An AWS refusal comes back as `ActionFailed` whose message is AWS's
own code and text, to show as is.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.orm import Session

from oaktree import aws
from oaktree.auth import audit
from oaktree.auth.roles import Permission, Principal, require
from oaktree.config import Settings
from oaktree.eventlog import record_events
from oaktree.events import Event, Severity
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import get_logger

log = get_logger(__name__)

# A desired count above this is almost certainly a typo (ECS's own per-service limit is 5,000 tasks).
MAX_DESIRED_COUNT = 1000


class Action(enum.StrEnum):
    """What can be done to a resource."""

    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    SET_DESIRED_COUNT = "set_desired_count"


# Which actions apply to which resource type, and in which states an EC2 action makes sense.
ACTIONS_BY_TYPE: dict[ResourceType, tuple[Action, ...]] = {
    ResourceType.EC2_INSTANCE: (Action.START, Action.STOP, Action.REBOOT),
    ResourceType.ECS_SERVICE: (Action.SET_DESIRED_COUNT,),
}
EC2_ALLOWED_FROM: dict[Action, frozenset[str]] = {
    Action.START: frozenset({"stopped"}),
    Action.STOP: frozenset({"running", "pending"}),
    Action.REBOOT: frozenset({"running"}),
}


class ActionError(Exception):
    """An action was not carried out; the message is one line to show the person who asked."""


class ActionRefused(ActionError):
    """The request itself is invalid (wrong type, state or value); nothing was sent to AWS."""


class ActionFailed(ActionError):
    """AWS refused or failed the call; `code` is AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


@dataclasses.dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did: the state AWS reported before and after (or the counts for ECS)."""

    action: Action
    resource_id: str
    previous: str | None
    current: str | None
    message: str


def available_actions(resource: Resource) -> tuple[Action, ...]:
    """Return the actions that apply to a resource's type."""
    return ACTIONS_BY_TYPE.get(resource.resource_type, ())


def _ec2_call(resource: Resource, action: Action) -> tuple[str | None, str | None]:
    client = aws.client("ec2", resource.region)
    ids = [resource.resource_id]
    if action is Action.REBOOT:
        client.reboot_instances(InstanceIds=ids)
        return "running", "rebooting"
    response = (
        client.start_instances(InstanceIds=ids)
        if action is Action.START
        else client.stop_instances(InstanceIds=ids)
    )
    change_key = "StartingInstances" if action is Action.START else "StoppingInstances"
    change = response[change_key][0]
    return change["PreviousState"]["Name"], change["CurrentState"]["Name"]


def _ecs_call(resource: Resource, desired_count: int) -> tuple[str | None, str | None]:
    if resource.cluster is None:
        raise ActionRefused(f"{resource.name} has no cluster in the inventory; run discovery again")
    client = aws.client("ecs", resource.region)
    response = client.update_service(
        cluster=resource.cluster, service=resource.resource_id, desiredCount=desired_count
    )
    previous = None if resource.desired_count is None else str(resource.desired_count)
    return previous, str(response["service"]["desiredCount"])


def _call_aws(resource: Resource, action: Action, desired_count: int | None) -> tuple[str | None, str | None]:
    try:
        if resource.resource_type is ResourceType.EC2_INSTANCE:
            return _ec2_call(resource, action)
        assert desired_count is not None  # checked by _check_request
        return _ecs_call(resource, desired_count)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(str(error.get("Code", "ClientError")), str(error.get("Message", exc))) from None
    except BotoCoreError as exc:
        raise ActionFailed(type(exc).__name__, str(exc)) from None


def _check_request(resource: Resource, action: Action, desired_count: int | None) -> None:
    if action not in available_actions(resource):
        raise ActionRefused(f"{action.value} does not apply to a {resource.resource_type.value}")
    if action in EC2_ALLOWED_FROM:
        # The inventory is as old as the last discovery (an earlier action may have changed it).
        state = _live_state_or_failure(resource) or resource.state
        if state not in EC2_ALLOWED_FROM[action]:
            allowed = " or ".join(sorted(EC2_ALLOWED_FROM[action]))
            raise ActionRefused(f"{resource.name} is {state}; {action.value} needs it {allowed}")
    if action is Action.SET_DESIRED_COUNT and (
        desired_count is None or not 0 <= desired_count <= MAX_DESIRED_COUNT
    ):
        raise ActionRefused(f"the desired count must be a whole number from 0 to {MAX_DESIRED_COUNT}")


def perform_action(
    *,
    session: Session,
    settings: Settings,
    principal: Principal | None,
    resource: Resource,
    action: Action,
    now: datetime,
    desired_count: int | None = None,
) -> ActionResult:
    """Carry out one action on one resource for `principal` and record it; return what changed.

    Raises PermissionDenied (nothing recorded: the caller may not act), ActionRefused (nothing
    sent to AWS) or ActionFailed (AWS refused; the audit log records the attempt and its error).
    """
    principal = require(principal, Permission.ACT_ON_RESOURCES)
    details: dict[str, Any] = {
        "region": resource.region,
        "resource_type": resource.resource_type.value,
        "name": resource.name,
    }
    if desired_count is not None:
        details["desired_count"] = desired_count
    audit_action = f"resource.{action.value}"
    try:
        _check_request(resource, action, desired_count)
        previous, current = _call_aws(resource, action, desired_count)
    except ActionFailed as failure:
        audit.record(
            session,
            actor=principal,
            action=audit_action,
            target=resource.resource_id,
            at=now,
            details={**details, "outcome": "failed", "error": str(failure)},
        )
        session.commit()
        log.warning(
            "action.failed", action=action.value, resource_id=resource.resource_id, error=failure.code
        )
        raise
    message = _describe(principal, resource, action, previous, current)
    audit.record(
        session,
        actor=principal,
        action=audit_action,
        target=resource.resource_id,
        at=now,
        details={**details, "outcome": "ok", "previous": previous, "current": current},
    )
    session.commit()
    record_events(
        settings,
        [
            Event(
                resource_id=resource.resource_id,
                resource_type=resource.resource_type.value,
                region=resource.region,
                event_type=f"action_{action.value}",
                severity=Severity.WARNING if action is Action.STOP else Severity.INFO,
                message=message,
                timestamp=now,
                details={"actor": principal.username, "previous": previous, "current": current},
            )
        ],
    )
    log.info("action.done", action=action.value, resource_id=resource.resource_id, actor=principal.username)
    return ActionResult(action, resource.resource_id, previous, current, message)


def _describe(
    principal: Principal, resource: Resource, action: Action, previous: str | None, current: str | None
) -> str:
    if action is Action.SET_DESIRED_COUNT:
        return f"{principal.username} set {resource.name}'s desired count from {previous} to {current}"
    verb = {Action.START: "started", Action.STOP: "stopped", Action.REBOOT: "rebooted"}[action]
    return f"{principal.username} {verb} {resource.name} ({previous} -> {current})"


def _live_state_or_failure(resource: Resource) -> str | None:
    try:
        return live_state(resource)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ActionFailed(str(error.get("Code", "ClientError")), str(error.get("Message", exc))) from None
    except BotoCoreError as exc:
        raise ActionFailed(type(exc).__name__, str(exc)) from None


def live_state(resource: Resource) -> str | None:
    """Return an EC2 instance's state as AWS reports it now (None for other types).

    Raises ActionFailed when AWS does not know the instance; other AWS errors propagate.
    """
    if resource.resource_type is not ResourceType.EC2_INSTANCE:
        return None
    client = aws.client("ec2", resource.region)
    try:
        response = client.describe_instances(InstanceIds=[resource.resource_id])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {
            "InvalidInstanceID.NotFound",
            "InvalidInstanceID.Malformed",
        }:
            raise ActionFailed(
                exc.response["Error"]["Code"],
                f"{resource.resource_id} is not an instance in {resource.region}",
            ) from None
        raise
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            return str(instance["State"]["Name"])
    return None
