"""Discovery against moto: pagination, untagged resources, change events, isolated failures."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from oaktree import aws as aws_clients
from oaktree.accounts import AccountRegion
from oaktree.config import Settings
from oaktree.discovery import sources
from oaktree.discovery.changes import EventType
from oaktree.discovery.pipeline import discover_all
from oaktree.eventlog import read_resource_events, record_events
from oaktree.inventory import ResourceType
from oaktree.warehouse import connect, read
from tests.fleet import REGIONS, Fleet

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _by_type(report_resources: list[Any], region: str) -> Counter[str]:
    return Counter(r.resource_type.value for r in report_resources if r.region == region)


def test_discovers_every_resource_of_every_region(
    fleet: Fleet, discovery_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    described_batches: list[int] = []
    aws_clients.add_event_handler(
        "provide-client-params.ecs.DescribeServices",
        lambda params, **kw: described_batches.append(len(params["services"])),
    )

    report = discover_all(discovery_settings, now=T0)

    assert not report.failures
    for region in REGIONS:
        counts = _by_type(report.resources, region)
        own_tables = 2 if region == discovery_settings.storage_region else 0
        assert counts == {
            "ec2_instance": 14,
            "ecs_cluster": 2,
            "ecs_service": 12,
            "dynamodb_table": 2 + own_tables,
        }
        found = {r.resource_id for r in report.resources if r.resource_type is ResourceType.EC2_INSTANCE}
        assert set(fleet.instances[region]) <= found
    # DescribeServices takes at most 10 services: 6 per cluster fit in one call each.
    assert described_batches == [6] * 2 * len(REGIONS)


def _instance(instance_id: str) -> dict[str, Any]:
    return {
        "InstanceId": instance_id,
        "InstanceType": "t3.micro",
        "State": {"Code": 16, "Name": "running"},
        "VpcId": "vpc-1",
        "SubnetId": "subnet-1",
        "Placement": {"AvailabilityZone": "us-east-1a"},
    }


def test_follows_every_page_of_instances_and_services(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto ignores MaxResults, so the pages here come from botocore's Stubber."""
    ec2 = boto3.client("ec2", "us-east-1")
    ec2_stub = Stubber(ec2)
    ec2_stub.add_response(
        "describe_instances",
        {
            "Reservations": [{"OwnerId": "1", "Instances": [_instance("i-1"), _instance("i-2")]}],
            "NextToken": "p2",
        },
        {"MaxResults": sources.EC2_PAGE_SIZE},
    )
    ec2_stub.add_response(
        "describe_instances",
        {"Reservations": [{"OwnerId": "1", "Instances": [_instance("i-3")]}]},
        {"MaxResults": sources.EC2_PAGE_SIZE, "NextToken": "p2"},
    )
    ecs = boto3.client("ecs", "us-east-1")
    ecs_stub = Stubber(ecs)
    cluster_arn = "arn:aws:ecs:us-east-1:1:cluster/oaktree-cluster"
    ecs_stub.add_response(
        "list_clusters", {"clusterArns": [cluster_arn]}, {"maxResults": sources.ECS_PAGE_SIZE}
    )
    ecs_stub.add_response(
        "describe_clusters",
        {"clusters": [{"clusterArn": cluster_arn, "clusterName": "oaktree-cluster", "status": "ACTIVE"}]},
        {"clusters": [cluster_arn], "include": ["TAGS"]},
    )
    arns = [f"arn:aws:ecs:us-east-1:1:service/oaktree-cluster/svc-{i}" for i in range(12)]
    ecs_stub.add_response(
        "list_services",
        {"serviceArns": arns[:8], "nextToken": "s2"},
        {"cluster": cluster_arn, "maxResults": sources.ECS_PAGE_SIZE},
    )
    ecs_stub.add_response(
        "list_services",
        {"serviceArns": arns[8:]},
        {"cluster": cluster_arn, "maxResults": sources.ECS_PAGE_SIZE, "nextToken": "s2"},
    )
    for batch in (arns[:10], arns[10:]):
        ecs_stub.add_response(
            "describe_services",
            {
                "services": [
                    {
                        "serviceArn": arn,
                        "serviceName": arn.rsplit("/", 1)[1],
                        "status": "ACTIVE",
                        "desiredCount": 2,
                        "runningCount": 1,
                    }
                    for arn in batch
                ]
            },
            {"cluster": cluster_arn, "services": batch, "include": ["TAGS"]},
        )
    clients = {"ec2": ec2, "ecs": ecs}
    monkeypatch.setattr(AccountRegion, "client", lambda scope, service: clients[service])
    scope = AccountRegion(None, "us-east-1")

    with ec2_stub, ecs_stub:
        instances = sources.discover_ec2_instances(scope, T0, "123456789012")
        ecs_resources = sources.discover_ecs(scope, T0, "123456789012")
        ec2_stub.assert_no_pending_responses()
        ecs_stub.assert_no_pending_responses()

    assert [r.resource_id for r in instances] == ["i-1", "i-2", "i-3"]
    services = [r for r in ecs_resources if r.resource_type is ResourceType.ECS_SERVICE]
    assert [r.name for r in services] == [f"svc-{i}" for i in range(12)]
    assert {(r.desired_count, r.running_count) for r in services} == {(2, 1)}


def test_untagged_resources_are_found_with_their_fields(fleet: Fleet, discovery_settings: Settings) -> None:
    report = discover_all(discovery_settings, now=T0)
    instances = {r.resource_id: r for r in report.resources if r.resource_type is ResourceType.EC2_INSTANCE}
    region = REGIONS[0]
    untagged = [i for i in fleet.instances[region] if i not in fleet.tagged[region]]
    assert untagged
    for instance_id in untagged:
        resource = instances[instance_id]
        assert resource.tags == {}
        assert resource.name == instance_id
        assert resource.instance_type == "m5.large"
        assert resource.state == "running"
        assert resource.vpc_id and resource.subnet_id
        assert resource.first_seen == resource.last_seen == T0
    tagged = instances[fleet.tagged[region][0]]
    assert tagged.tags == {"Name": "web", "env": "prod"}
    assert tagged.name == "web"
    service = next(r for r in report.resources if r.resource_type is ResourceType.ECS_SERVICE)
    assert service.desired_count == 2
    assert service.cluster in {"oaktree-cluster", "batch"}
    table = next(r for r in report.resources if r.name == "sessions" and r.region == region)
    assert table.capacity_mode == "ON_DEMAND"
    # AWS reports zeros for an on-demand table's throughput: kept as no capacity at all.
    assert (table.read_capacity_units, table.write_capacity_units) == (None, None)


def test_provisioned_tables_keep_their_capacity(fleet: Fleet, discovery_settings: Settings) -> None:
    region = REGIONS[0]
    aws_clients.client("dynamodb", region).create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 40, "WriteCapacityUnits": 15},
    )

    report = discover_all(discovery_settings, now=T0)

    ledger = next(r for r in report.resources if r.name == "ledger")
    assert ledger.capacity_mode == "PROVISIONED"
    assert (ledger.read_capacity_units, ledger.write_capacity_units) == (40, 15)


def test_changes_become_events_in_dynamodb_and_warehouse(fleet: Fleet, discovery_settings: Settings) -> None:
    region = REGIONS[1]
    first = discover_all(discovery_settings, now=T0)
    assert Counter(e.event_type for e in first.events) == {EventType.DISCOVERED: len(first.resources)}

    ec2 = aws_clients.client("ec2", region)
    stopped, terminated = fleet.instances[region][0], fleet.instances[region][1]
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[terminated])
    aws_clients.client("dynamodb", region).delete_table(TableName="sessions")

    second = discover_all(discovery_settings, now=T0 + timedelta(minutes=10))

    changes = {(e.resource_id, e.event_type): e for e in second.events}
    assert len(second.events) == 3
    state_change = changes[(stopped, EventType.STATE_CHANGED)]
    assert state_change.details["previous_state"] == "running"
    assert state_change.details["state"] == "stopped"
    assert state_change.severity == "warning"
    assert (terminated, EventType.GONE) in changes
    gone_table = next(e for e in second.events if e.resource_type == "dynamodb_table")
    assert gone_table.event_type == EventType.GONE
    assert second.events_written == 3

    stored = read_resource_events(discovery_settings, stopped)
    assert [item["event_type"] for item in stored] == [EventType.DISCOVERED, EventType.STATE_CHANGED]
    assert stored[1]["timestamp"] == int((T0 + timedelta(minutes=10)).timestamp() * 1000)
    assert stored[1]["region"] == region

    with connect(settings=discovery_settings) as warehouse:
        warehouse_events = read.events(warehouse)
        stopped_events = read.events(warehouse, resource_ids=[stopped])
        rows = warehouse.execute("select resource_id, state from resources").fetchall()
    assert len(warehouse_events) == len(first.events) + 3
    # Newest first, as a timeline shows them.
    assert list(stopped_events["event_type"]) == [EventType.STATE_CHANGED, EventType.DISCOVERED]
    # The `resources` table holds the current inventory only: the terminated instance is not in it.
    assert len(rows) == len(second.resources)
    assert terminated not in {resource_id for resource_id, _ in rows}
    assert (stopped, "stopped") in rows

    # first_seen survives, last_seen moves; an unchanged third run writes nothing.
    resource = next(r for r in second.resources if r.resource_id == stopped)
    assert (resource.first_seen, resource.last_seen) == (T0, T0 + timedelta(minutes=10))
    third = discover_all(discovery_settings, now=T0 + timedelta(minutes=20))
    assert third.events == []


def test_two_events_of_one_resource_in_one_millisecond_are_both_kept(
    fleet: Fleet, discovery_settings: Settings
) -> None:
    report = discover_all(discovery_settings, now=T0)
    event = report.events[0]
    twin = dataclasses.replace(event, event_id="another-id", message="second event, same millisecond")
    record_events(discovery_settings, [twin])
    stored = read_resource_events(discovery_settings, event.resource_id)
    assert sorted(item["message"] for item in stored) == sorted([event.message, twin.message])
    assert {item["timestamp"] for item in stored} == {event.timestamp_ms}


def _failing(service_source: Any, region: str, error: Exception) -> Any:
    def source(scope: AccountRegion, now: datetime, account_id: str) -> Any:
        if scope.region == region:
            raise error
        return service_source(scope, now, account_id)

    return source


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no ecs:ListClusters"}}, "ListClusters"
        ),
        EndpointConnectionError(endpoint_url="https://ecs.ap-southeast-1.amazonaws.com/"),
    ],
    ids=["access-denied", "endpoint-down"],
)
def test_one_failing_region_does_not_stop_the_others(
    fleet: Fleet, discovery_settings: Settings, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    first = discover_all(discovery_settings, now=T0)
    failing_region, healthy_region = REGIONS
    monkeypatch.setitem(sources.SERVICE_SOURCES, "ecs", _failing(sources.discover_ecs, failing_region, error))
    aws_clients.client("ec2", healthy_region).stop_instances(InstanceIds=[fleet.instances[healthy_region][0]])

    second = discover_all(discovery_settings, now=T0 + timedelta(minutes=10))

    assert [(f.region, f.service) for f in second.failures] == [(failing_region, "ecs")]
    expected_code = "AccessDeniedException" if isinstance(error, ClientError) else "EndpointConnectionError"
    assert second.failures[0].error_code == expected_code
    # The failed source's resources are kept as last seen, not reported gone.
    assert all(e.event_type != EventType.GONE for e in second.events)
    assert _by_type(second.resources, failing_region) == _by_type(first.resources, failing_region)
    # The healthy region still completed, change detected.
    assert [e.event_type for e in second.events] == [EventType.STATE_CHANGED]
    assert second.to_dict()["failures"][0]["region"] == failing_region
