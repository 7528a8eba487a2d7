"""Resources as discovery records them, and CloudWatch data with known values, for collection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oaktree import aws as aws_clients
from oaktree.inventory import Resource, ResourceType

REGIONS = ("ap-southeast-1", "us-east-1")
# A fixed "now" half a minute past 12:00, so windows end at 12:00 exactly.
NOW = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def instance(region: str, index: int) -> Resource:
    """Return an EC2 instance resource as discovery would record it."""
    instance_id = f"i-{region.replace('-', '')[:8]}{index:08x}"
    return Resource(
        resource_id=instance_id,
        arn=f"arn:aws:ec2:{region}:123456789012:instance/{instance_id}",
        resource_type=ResourceType.EC2_INSTANCE,
        region=region,
        name=f"web-{index}",
        state="running",
        account_id="123456789012",
    )


def dynamodb_table(region: str, name: str) -> Resource:
    """Return a DynamoDB table resource."""
    arn = f"arn:aws:dynamodb:{region}:123456789012:table/{name}"
    return Resource(
        resource_id=arn,
        arn=arn,
        resource_type=ResourceType.DYNAMODB_TABLE,
        region=region,
        name=name,
        state="ACTIVE",
    )


def minutes_before_end(count: int) -> list[datetime]:
    """Return the `count` minute timestamps ending one minute before WINDOW_END."""
    return [WINDOW_END - timedelta(minutes=count - offset) for offset in range(count)]


def put_points(
    region: str,
    namespace: str,
    metric_name: str,
    dimensions: dict[str, str],
    points: list[tuple[datetime, float]],
    unit: str = "None",
) -> None:
    """Publish one datapoint per (time, value) to CloudWatch (one per minute gives exact statistics)."""
    client = aws_clients.client("cloudwatch", region)
    data = [
        {
            "MetricName": metric_name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
            "Timestamp": moment,
            "Value": value,
            "Unit": unit,
        }
        for moment, value in points
    ]
    for offset in range(0, len(data), 1000):
        client.put_metric_data(Namespace=namespace, MetricData=data[offset : offset + 1000])
