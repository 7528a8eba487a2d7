"""Resource actions on moto: role checked server-side, AWS called, audit entry and event recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import AuditEntry
from oaktree import db
from oaktree.actions import Action, ActionFailed, ActionRefused, live_state, perform_action
from oaktree.auth.errors import PermissionDenied
from oaktree.auth.roles import Principal
from oaktree.config import Settings, load_settings
from oaktree.eventlog import read_resource_events
from oaktree.inventory import Resource, ResourceType
from oaktree.storage.tables import ensure_tables
from oaktree.warehouse import connect, read

REGION = "us-east-1"
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
OPERATOR = Principal(user_id=None, username="ops", roles=("operator",))
VIEWER = Principal(user_id=None, username="watcher", roles=("viewer",))


@pytest.fixture
def action_settings(aws: None, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> Iterator[Settings]:
    monkeypatch.setenv("OAKTREE_DATABASE_URL", pg_url)
    monkeypatch.setenv("OAKTREE_REGIONS", REGION)
    settings = load_settings()
    db.upgrade(pg_url)
    ensure_tables(metrics_table=settings.metrics_table, events_table=settings.events_table, region=REGION)
    yield settings
    db.dispose_engines()


@pytest.fixture
def session(action_settings: Settings) -> Iterator[Session]:
    with db.session_factory(action_settings.sqlalchemy_url)() as opened:
        yield opened


@pytest.fixture
def instance(action_settings: Settings) -> Resource:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    return Resource(instance_id, f"arn:{instance_id}", ResourceType.EC2_INSTANCE, REGION, "web-1", "running")


def audit_rows(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("resource.%"))))


def test_operator_stops_an_instance_and_it_is_audited_and_on_the_timeline(
    action_settings: Settings, session: Session, instance: Resource
) -> None:
    result = perform_action(
        session=session,
        settings=action_settings,
        principal=OPERATOR,
        resource=instance,
        action=Action.STOP,
        now=NOW,
    )

    assert (result.previous, result.current) == ("running", "stopping")
    assert live_state(instance) in {"stopping", "stopped"}
    [entry] = audit_rows(session)
    assert (entry.actor, entry.action, entry.target) == ("ops", "resource.stop", instance.resource_id)
    assert entry.details["outcome"] == "ok"
    [event] = read_resource_events(action_settings, instance.resource_id)
    assert event["event_type"] == "action_stop"
    assert "ops stopped web-1" in event["message"]
    warehouse_events = read.events(connect(settings=action_settings), resource_ids=[instance.resource_id])
    assert list(warehouse_events["event_type"]) == ["action_stop"]


def test_viewer_is_refused_server_side_and_nothing_happens(
    action_settings: Settings, session: Session, instance: Resource
) -> None:
    with pytest.raises(PermissionDenied, match="may not act on resources"):
        perform_action(
            session=session,
            settings=action_settings,
            principal=VIEWER,
            resource=instance,
            action=Action.STOP,
            now=NOW,
        )
    assert live_state(instance) == "running"
    assert audit_rows(session) == []
    assert read_resource_events(action_settings, instance.resource_id) == []


def test_signed_out_caller_is_refused(
    action_settings: Settings, session: Session, instance: Resource
) -> None:
    with pytest.raises(PermissionDenied, match="login required"):
        perform_action(
            session=session,
            settings=action_settings,
            principal=None,
            resource=instance,
            action=Action.REBOOT,
            now=NOW,
        )


def test_start_of_a_running_instance_is_refused_from_its_live_state(
    action_settings: Settings, session: Session, instance: Resource
) -> None:
    stale = Resource(instance.resource_id, instance.arn, instance.resource_type, REGION, "web-1", "stopped")
    with pytest.raises(ActionRefused, match="web-1 is running; start needs it stopped"):
        perform_action(
            session=session,
            settings=action_settings,
            principal=OPERATOR,
            resource=stale,
            action=Action.START,
            now=NOW,
        )
    assert audit_rows(session) == []


def test_aws_error_is_shown_plainly_and_audited(action_settings: Settings, session: Session) -> None:
    gone = Resource("i-0123456789abcdef0", "arn:gone", ResourceType.EC2_INSTANCE, REGION, "gone", "running")
    with pytest.raises(ActionFailed) as raised:
        perform_action(
            session=session,
            settings=action_settings,
            principal=OPERATOR,
            resource=gone,
            action=Action.REBOOT,
            now=NOW,
        )
    assert raised.value.code == "InvalidInstanceID.NotFound"
    assert str(raised.value).startswith("InvalidInstanceID.NotFound: ")
    [entry] = audit_rows(session)
    assert entry.details["outcome"] == "failed"
    assert "InvalidInstanceID.NotFound" in entry.details["error"]
    assert read_resource_events(action_settings, gone.resource_id) == []


def test_operator_sets_an_ecs_service_desired_count(action_settings: Settings, session: Session) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="main")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "api", "image": "nginx", "memory": 128}]
    )
    arn = ecs.create_service(cluster="main", serviceName="api", taskDefinition="api", desiredCount=2)[
        "service"
    ]["serviceArn"]
    service = Resource(
        arn, arn, ResourceType.ECS_SERVICE, REGION, "api", "ACTIVE", cluster="main", desired_count=2
    )

    result = perform_action(
        session=session,
        settings=action_settings,
        principal=OPERATOR,
        resource=service,
        action=Action.SET_DESIRED_COUNT,
        desired_count=5,
        now=NOW,
    )

    assert (result.previous, result.current) == ("2", "5")
    assert ecs.describe_services(cluster="main", services=[arn])["services"][0]["desiredCount"] == 5
    [entry] = audit_rows(session)
    assert entry.details["desired_count"] == 5
    [event] = read_resource_events(action_settings, arn)
    assert event["message"] == "ops set api's desired count from 2 to 5"


@pytest.mark.parametrize("count", [-1, 1001, None])
def test_desired_count_out_of_range_is_refused_before_aws(
    action_settings: Settings, session: Session, count: int | None
) -> None:
    service = Resource(
        "arn:svc", "arn:svc", ResourceType.ECS_SERVICE, REGION, "api", "ACTIVE", cluster="main"
    )
    with pytest.raises(ActionRefused, match="whole number from 0 to 1000"):
        perform_action(
            session=session,
            settings=action_settings,
            principal=OPERATOR,
            resource=service,
            action=Action.SET_DESIRED_COUNT,
            desired_count=count,
            now=NOW,
        )


def test_an_action_that_does_not_apply_to_the_type_is_refused(
    action_settings: Settings, session: Session
) -> None:
    table = Resource("arn:t", "arn:t", ResourceType.DYNAMODB_TABLE, REGION, "sessions", "ACTIVE")
    with pytest.raises(ActionRefused, match="stop does not apply to a dynamodb_table"):
        perform_action(
            session=session,
            settings=action_settings,
            principal=OPERATOR,
            resource=table,
            action=Action.STOP,
            now=NOW,
        )
