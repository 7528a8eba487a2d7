"""A small moto fleet (instances, ECS services, tables) in two regions, for discovery tests."""

from __future__ import annotations

import dataclasses

from oaktree import aws as aws_clients

REGIONS = ("ap-southeast-1", "us-east-1")


@dataclasses.dataclass
class Fleet:
    """Ids of what `fleet` created, per region."""

    instances: dict[str, list[str]]
    tagged: dict[str, list[str]]
    services: dict[str, list[str]]
    tables: dict[str, list[str]]


def make_fleet(
    region: str, *, instances: int, services: int
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Create half tagged, half untagged instances, two clusters of services and two tables."""
    ec2 = aws_clients.client("ec2", region)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tagged = ec2.run_instances(
        ImageId=image,
        MinCount=instances // 2,
        MaxCount=instances // 2,
        InstanceType="t3.micro",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}],
            }
        ],
    )["Instances"]
    untagged = ec2.run_instances(
        ImageId=image,
        MinCount=instances - instances // 2,
        MaxCount=instances - instances // 2,
        InstanceType="m5.large",
    )["Instances"]
    ecs = aws_clients.client("ecs", region)
    service_names = []
    for cluster in ("oaktree-cluster", "batch"):
        ecs.create_cluster(clusterName=cluster)
        for index in range(services):
            name = f"{cluster}-svc-{index}"
            ecs.create_service(cluster=cluster, serviceName=name, desiredCount=2)
            service_names.append(name)
    dynamodb = aws_clients.client("dynamodb", region)
    table_names = [f"orders-{region}", "sessions"]
    for name in table_names:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return (
        [i["InstanceId"] for i in tagged + untagged],
        [i["InstanceId"] for i in tagged],
        service_names,
        table_names,
    )
