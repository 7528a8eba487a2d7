"""The sandbox's fleet, read back through the AWS APIs discovery uses, per region."""

from __future__ import annotations

import pytest

from oaktree import aws
from oaktree.config import load_settings
from sandbox.fleet import plan_fleet
from sandbox.server import Sandbox
from tests.sandbox.conftest import REGIONS, SEED

SEED_SUBNETS = {
    ("10.0.1.0/24", "a"),
    ("10.0.2.0/24", "b"),
    ("10.0.3.0/24", "a"),
    ("10.0.4.0/24", "b"),
}


def _instances(region: str) -> list[dict]:
    pages = aws.client("ec2", region).get_paginator("describe_instances").paginate()
    return [i for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]]


@pytest.mark.parametrize("region", REGIONS)
def test_network_follows_the_seed_document(sandbox_env: Sandbox, region: str) -> None:
    fleet = sandbox_env.fleet.regions[region]
    ec2 = aws.client("ec2", region)
    vpc = ec2.describe_vpcs(VpcIds=[fleet.vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [fleet.vpc_id]}])["Subnets"]
    assert {(s["CidrBlock"], s["AvailabilityZone"].removeprefix(region)) for s in subnets} == SEED_SUBNETS
    gateway = ec2.describe_internet_gateways(InternetGatewayIds=[fleet.internet_gateway_id])[
        "InternetGateways"
    ][0]
    assert gateway["Attachments"] == [{"State": "available", "VpcId": fleet.vpc_id}]
    nat = ec2.describe_nat_gateways(NatGatewayIds=[fleet.nat_gateway_id])["NatGateways"][0]
    assert nat["SubnetId"] == fleet.subnet_ids["public-a"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [fleet.vpc_id]}])["RouteTables"]
    default_routes = {
        route.get("GatewayId") or route.get("NatGatewayId")
        for table in tables
        for route in table["Routes"]
        if route.get("DestinationCidrBlock") == "0.0.0.0/0"
    }
    assert default_routes == {fleet.internet_gateway_id, fleet.nat_gateway_id}


@pytest.mark.parametrize("region", REGIONS)
def test_instances_mix_types_states_and_tags(sandbox_env: Sandbox, region: str) -> None:
    fleet = sandbox_env.fleet.regions[region]
    instances = {i["InstanceId"]: i for i in _instances(region)}
    assert sorted(instances) == sorted(fleet.instance_ids)
    assert len(instances) == 14
    states = [i["State"]["Name"] for i in instances.values()]
    assert states.count("running") == 11
    assert states.count("stopped") == 3
    assert sorted(fleet.stopped_instance_ids) == sorted(
        iid for iid, i in instances.items() if i["State"]["Name"] == "stopped"
    )
    assert len({i["InstanceType"] for i in instances.values()}) >= 3
    tag_keys = [frozenset(tag["Key"] for tag in i.get("Tags", [])) for i in instances.values()]
    assert tag_keys.count(frozenset({"Name", "env", "team"})) == 9
    assert tag_keys.count(frozenset({"Name"})) == 1
    assert tag_keys.count(frozenset()) == 4
    subnets = {i["SubnetId"] for i in instances.values()}
    assert subnets == set(fleet.subnet_ids.values())
    assert fleet.incident_instance_id in fleet.running_instance_ids
    assert len(fleet.idle_instance_ids) == 2


@pytest.mark.parametrize("region", REGIONS)
def test_ecs_clusters_and_services_have_desired_and_running_counts(sandbox_env: Sandbox, region: str) -> None:
    ecs = aws.client("ecs", region)
    cluster_arns = [
        arn for page in ecs.get_paginator("list_clusters").paginate() for arn in page["clusterArns"]
    ]
    clusters = sorted(arn.rsplit("/", 1)[1] for arn in cluster_arns)
    assert clusters == ["oaktree-cluster", "payments-cluster"]
    counts = {}
    for cluster in clusters:
        arns = [
            a
            for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
            for a in page["serviceArns"]
        ]
        for service in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            counts[f"{cluster}/{service['serviceName']}"] = (service["desiredCount"], service["runningCount"])
    assert counts == {
        "oaktree-cluster/oaktree-service": (2, 2),
        "oaktree-cluster/oaktree-worker": (3, 2),
        "payments-cluster/payments-api": (4, 4),
        "payments-cluster/payments-ledger": (2, 2),
    }
    assert sorted(sandbox_env.fleet.regions[region].service_names) == sorted(counts)


@pytest.mark.parametrize("region", REGIONS)
def test_monitored_tables_exist_with_items(sandbox_env: Sandbox, region: str) -> None:
    dynamodb = aws.client("dynamodb", region)
    names = [n for page in dynamodb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
    monitored = {"customers", "orders", "product-catalog", "sessions"}
    assert monitored <= set(names)
    planned = {table.name: table for table in plan_fleet(seed=SEED, region=region).tables}
    for name in monitored:
        description = dynamodb.describe_table(TableName=name)["Table"]
        assert description["ItemCount"] == planned[name].item_count
    sessions = dynamodb.describe_table(TableName="sessions")["Table"]
    assert sessions["ProvisionedThroughput"]["WriteCapacityUnits"] == 50
    assert sandbox_env.fleet.regions[region].incident_table == "sessions"


def test_oaktree_own_tables_are_created_in_the_storage_region(sandbox_env: Sandbox) -> None:
    settings = load_settings(regions=REGIONS)
    dynamodb = aws.client("dynamodb", settings.storage_region)
    names = dynamodb.list_tables()["TableNames"]
    assert {settings.metrics_table, settings.events_table} <= set(names)
    ttl = dynamodb.describe_time_to_live(TableName=settings.metrics_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    # OakTree's own tables live only in the storage region; the other region holds the fleet's.
    other = next(r for r in REGIONS if r != settings.storage_region)
    assert settings.metrics_table not in aws.client("dynamodb", other).list_tables()["TableNames"]


def test_summary_names_endpoint_regions_and_incident(sandbox_env: Sandbox) -> None:
    summary = sandbox_env.summary()
    assert summary["endpoint_url"] == f"http://127.0.0.1:{sandbox_env.port}"
    assert summary["regions"] == list(REGIONS)
    assert summary["seed"] == SEED
    for region in REGIONS:
        region_summary = summary["fleet"][region]
        assert region_summary["incident_table"] == "sessions"
        assert region_summary["running_instances"] == 11
        assert region_summary["stopped_instances"] == 3
