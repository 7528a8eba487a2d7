"""Read one region's resources (of one account) from the per-service APIs, tagged or not.

The Resource Groups Tagging API is cheaper but sees only tagged resources (the incumbents' most
repeated complaint), so each service's own Describe/List APIs are used, through paginators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from oaktree.accounts import AccountRegion
from oaktree.inventory import Resource, ResourceType

ECS_DESCRIBE_SERVICES_LIMIT = 10  # DescribeServices accepts at most 10 services per call
ECS_DESCRIBE_CLUSTERS_LIMIT = 100
# Page sizes: the APIs' maxima, so a large estate costs the fewest calls (tests lower them).
EC2_PAGE_SIZE = 1000
ECS_PAGE_SIZE = 100
DYNAMODB_PAGE_SIZE = 100


def _tags(pairs: list[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {pair[key]: pair[value] for pair in pairs or []}


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def discover_ec2_instances(scope: AccountRegion, now: datetime, account_id: str) -> list[Resource]:
    """Return every EC2 instance of a region (all states but terminated)."""
    ec2 = scope.client("ec2")
    region = scope.region
    resources = []
    for page in ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": EC2_PAGE_SIZE}
    ):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = instance["State"]["Name"]
                if state == "terminated":  # AWS keeps terminated instances listed for about an hour
                    continue
                tags = _tags(instance.get("Tags"))
                instance_id = instance["InstanceId"]
                owner = reservation.get("OwnerId") or account_id
                resources.append(
                    Resource(
                        resource_id=instance_id,
                        arn=f"arn:aws:ec2:{region}:{owner}:instance/{instance_id}",
                        resource_type=ResourceType.EC2_INSTANCE,
                        region=region,
                        account_id=account_id,
                        name=tags.get("Name", instance_id),
                        state=state,
                        tags=tags,
                        first_seen=now,
                        last_seen=now,
                        instance_type=instance.get("InstanceType"),
                        vpc_id=instance.get("VpcId"),
                        subnet_id=instance.get("SubnetId"),
                        availability_zone=instance.get("Placement", {}).get("AvailabilityZone"),
                        private_ip=instance.get("PrivateIpAddress"),
                    )
                )
    return resources


def discover_ecs(scope: AccountRegion, now: datetime, account_id: str) -> list[Resource]:
    """Return every ECS cluster of a region and every service in them."""
    ecs = scope.client("ecs")
    region = scope.region
    cluster_arns = [
        arn
        for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": ECS_PAGE_SIZE})
        for arn in page["clusterArns"]
    ]
    resources: list[Resource] = []
    for arns in _chunks(cluster_arns, ECS_DESCRIBE_CLUSTERS_LIMIT):
        described = ecs.describe_clusters(clusters=arns, include=["TAGS"])["clusters"]
        for cluster in described:
            resources.append(
                Resource(
                    resource_id=cluster["clusterArn"],
                    arn=cluster["clusterArn"],
                    resource_type=ResourceType.ECS_CLUSTER,
                    region=region,
                    account_id=account_id,
                    name=cluster["clusterName"],
                    state=cluster.get("status", "UNKNOWN"),
                    tags=_tags(cluster.get("tags"), "key", "value"),
                    first_seen=now,
                    last_seen=now,
                    running_count=cluster.get("runningTasksCount"),
                )
            )
            resources.extend(
                _discover_services(
                    ecs, cluster["clusterArn"], cluster["clusterName"], region, now, account_id
                )
            )
    return resources


def _discover_services(
    ecs: Any, cluster_arn: str, cluster_name: str, region: str, now: datetime, account_id: str
) -> list[Resource]:
    service_arns = [
        arn
        for page in ecs.get_paginator("list_services").paginate(
            cluster=cluster_arn, PaginationConfig={"PageSize": ECS_PAGE_SIZE}
        )
        for arn in page["serviceArns"]
    ]
    resources = []
    for arns in _chunks(service_arns, ECS_DESCRIBE_SERVICES_LIMIT):
        for service in ecs.describe_services(cluster=cluster_arn, services=arns, include=["TAGS"])[
            "services"
        ]:
            resources.append(
                Resource(
                    resource_id=service["serviceArn"],
                    arn=service["serviceArn"],
                    resource_type=ResourceType.ECS_SERVICE,
                    region=region,
                    account_id=account_id,
                    name=service["serviceName"],
                    state=service.get("status", "UNKNOWN"),
                    tags=_tags(service.get("tags"), "key", "value"),
                    first_seen=now,
                    last_seen=now,
                    cluster=cluster_name,
                    desired_count=service.get("desiredCount"),
                    running_count=service.get("runningCount"),
                    launch_type=service.get("launchType"),
                )
            )
    return resources


def discover_dynamodb_tables(scope: AccountRegion, now: datetime, account_id: str) -> list[Resource]:
    """Return every DynamoDB table of a region with its capacity mode."""
    dynamodb = scope.client("dynamodb")
    region = scope.region
    resources = []
    for page in dynamodb.get_paginator("list_tables").paginate(
        PaginationConfig={"PageSize": DYNAMODB_PAGE_SIZE}
    ):
        for table_name in page["TableNames"]:
            table = dynamodb.describe_table(TableName=table_name)["Table"]
            billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
            # AWS reports zeros for an on-demand table's throughput: those are no capacity.
            throughput = table.get("ProvisionedThroughput", {}) if billing != "PAY_PER_REQUEST" else {}
            tags = {}
            for tag_page in dynamodb.get_paginator("list_tags_of_resource").paginate(
                ResourceArn=table["TableArn"]
            ):
                tags.update(_tags(tag_page.get("Tags")))
            resources.append(
                Resource(
                    resource_id=table["TableArn"],
                    arn=table["TableArn"],
                    resource_type=ResourceType.DYNAMODB_TABLE,
                    region=region,
                    account_id=account_id,
                    name=table_name,
                    state=table.get("TableStatus", "UNKNOWN"),
                    tags=tags,
                    first_seen=now,
                    last_seen=now,
                    capacity_mode="ON_DEMAND" if billing == "PAY_PER_REQUEST" else "PROVISIONED",
                    item_count=table.get("ItemCount"),
                    read_capacity_units=throughput.get("ReadCapacityUnits"),
                    write_capacity_units=throughput.get("WriteCapacityUnits"),
                )
            )
    return resources


# Each service is discovered separately so one failing API (AccessDenied on ECS, say) leaves the rest.
SERVICE_SOURCES: dict[str, Callable[[AccountRegion, datetime, str], list[Resource]]] = {
    "ec2": discover_ec2_instances,
    "ecs": discover_ecs,
    "dynamodb": discover_dynamodb_tables,
}

# Which resource types a service's source is the authority for (used to keep them on failure).
SERVICE_TYPES: dict[str, tuple[ResourceType, ...]] = {
    "ec2": (ResourceType.EC2_INSTANCE,),
    "ecs": (ResourceType.ECS_CLUSTER, ResourceType.ECS_SERVICE),
    "dynamodb": (ResourceType.DYNAMODB_TABLE,),
}
