"""The simulated fleet: what the sandbox creates in each region, planned from the seed.

The plan is fixed in shape (so tests can count on it) and seeded in detail (instance types,
table sizes, item counts). Creation talks to the sandbox endpoint through `oaktree.aws` like any
other client; the returned `RegionFleet` records what was created with the ids AWS assigned.
Network layout follows the seed document: VPC 10.0.0.0/16, public 10.0.1.0/24 (a) and
10.0.2.0/24 (b), private 10.0.3.0/24 (a) and 10.0.4.0/24 (b), an internet gateway for the
public subnets and a NAT gateway for the private ones.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from oaktree import aws
from oaktree.catalogue import MetricSpec
from oaktree.inventory import Resource, ResourceType
from oaktree.logs import get_logger
from sandbox.metric_generator import IncidentSchedule, Role, SimulatedResource, expected_value

log = get_logger(__name__)

VPC_CIDR = "10.0.0.0/16"
# name -> (CIDR, availability-zone suffix, public?)
SUBNETS: dict[str, tuple[str, str, bool]] = {
    "public-a": ("10.0.1.0/24", "a", True),
    "public-b": ("10.0.2.0/24", "b", True),
    "private-a": ("10.0.3.0/24", "a", False),
    "private-b": ("10.0.4.0/24", "b", False),
}
# Any image id works against the sandbox; this one only has to look like an AMI id.
SANDBOX_IMAGE_ID = "ami-0a1b2c3d4e5f60718"
MAX_BATCH_WRITE_ITEMS = 25  # BatchWriteItem's limit (moto does not enforce it)


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedInstance:
    """One EC2 instance of the plan; `tags` empty means untagged."""

    name: str
    instance_type: str
    subnet: str
    role: Role
    tags: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedService:
    """One ECS service: `running_count` below `desired_count` is a service short of tasks."""

    cluster: str
    name: str
    desired_count: int
    running_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedTable:
    """One monitored customer DynamoDB table (not one of OakTree's own)."""

    name: str
    partition_key: str
    sort_key: str | None
    provisioned: tuple[int, int] | None  # (read, write) capacity units; None is on-demand
    role: Role
    item_count: int


@dataclasses.dataclass(frozen=True, slots=True)
class FleetPlan:
    """Everything the sandbox creates in one region."""

    instances: tuple[PlannedInstance, ...]
    clusters: tuple[str, ...]
    services: tuple[PlannedService, ...]
    tables: tuple[PlannedTable, ...]


# (name, subnet, role, tags or None for untagged, instance type family). Shape is fixed:
# 14 instances, 11 running and 3 stopped, 9 fully tagged, 1 with only a Name, 4 untagged,
# 2 idle, 1 incident instance.
_INSTANCE_SLOTS: tuple[tuple[str, str, Role, dict[str, str] | None, str], ...] = (
    ("web-1", "public-a", Role.NORMAL, {"env": "prod", "team": "storefront"}, "web"),
    ("web-2", "public-b", Role.NORMAL, {"env": "prod", "team": "storefront"}, "web"),
    ("api-1", "private-a", Role.NORMAL, {"env": "prod", "team": "platform"}, "api"),
    ("api-2", "private-b", Role.INCIDENT, {"env": "prod", "team": "platform"}, "api"),
    ("worker-1", "private-a", Role.NORMAL, {"env": "prod", "team": "data"}, "worker"),
    ("worker-2", "private-b", Role.NORMAL, {"env": "staging", "team": "data"}, "worker"),
    ("reporting", "private-b", Role.NORMAL, {"env": "staging", "team": "analytics"}, "worker"),
    ("bastion", "public-a", Role.IDLE, {"env": "prod", "team": "ops"}, "small"),
    ("batch-nightly", "private-a", Role.STOPPED, {"env": "prod", "team": "data"}, "worker"),
    ("ci-runner", "private-b", Role.STOPPED, {}, "api"),  # only a Name tag
    ("untagged-1", "private-a", Role.NORMAL, None, "api"),
    ("untagged-2", "private-b", Role.NORMAL, None, "web"),
    ("untagged-3", "public-b", Role.IDLE, None, "small"),
    ("untagged-4", "private-a", Role.STOPPED, None, "small"),
)
_INSTANCE_TYPES = {
    "web": ("t3.medium", "t3.large", "m5.large"),
    "api": ("m5.large", "m5.xlarge", "c5.large"),
    "worker": ("c5.xlarge", "r5.large", "m5.2xlarge"),
    "small": ("t3.micro", "t3.small", "t3.nano"),
}
OAKTREE_CLUSTER = "oaktree-cluster"
_SERVICES = (
    PlannedService(OAKTREE_CLUSTER, "oaktree-service", desired_count=2, running_count=2),
    PlannedService(OAKTREE_CLUSTER, "oaktree-worker", desired_count=3, running_count=2),
    PlannedService("payments-cluster", "payments-api", desired_count=4, running_count=4),
    PlannedService("payments-cluster", "payments-ledger", desired_count=2, running_count=2),
)
# (name, partition key, sort key, provisioned capacity, role)
_TABLE_SLOTS: tuple[tuple[str, str, str | None, tuple[int, int] | None, Role], ...] = (
    ("orders", "customer_id", "order_id", None, Role.NORMAL),
    ("sessions", "session_id", None, (50, 50), Role.INCIDENT),
    ("customers", "customer_id", None, None, Role.NORMAL),
    ("product-catalog", "sku", None, (25, 10), Role.NORMAL),
)


def plan_fleet(*, seed: int, region: str) -> FleetPlan:
    """Return the fleet of one region; the same seed and region always give the same plan."""
    rng = random.Random(f"{seed}/{region}")
    instances = []
    for name, subnet, role, extra_tags, family in _INSTANCE_SLOTS:
        tags = {} if extra_tags is None else {"Name": name, **extra_tags}
        instances.append(PlannedInstance(name, rng.choice(_INSTANCE_TYPES[family]), subnet, role, tags))
    tables = tuple(
        PlannedTable(name, pk, sk, provisioned, role, item_count=rng.randint(5, 40))
        for name, pk, sk, provisioned, role in _TABLE_SLOTS
    )
    clusters = tuple(dict.fromkeys(service.cluster for service in _SERVICES))
    return FleetPlan(instances=tuple(instances), clusters=clusters, services=_SERVICES, tables=tables)


@dataclasses.dataclass(frozen=True, slots=True)
class RegionFleet:
    """What the sandbox created in one region, with the ids AWS assigned."""

    region: str
    vpc_id: str
    subnet_ids: dict[str, str]  # plan subnet name -> subnet id
    internet_gateway_id: str
    nat_gateway_id: str
    instances: tuple[SimulatedResource, ...]
    clusters: tuple[str, ...]
    services: tuple[SimulatedResource, ...]
    tables: tuple[SimulatedResource, ...]

    @property
    def resources(self) -> tuple[SimulatedResource, ...]:
        """Return every resource that has catalogue metrics."""
        return self.instances + self.services + self.tables

    @property
    def instance_ids(self) -> list[str]:
        return [sim.resource.resource_id for sim in self.instances]

    def _ids_with(self, role: Role) -> list[str]:
        return [sim.resource.resource_id for sim in self.instances if sim.role is role]

    @property
    def running_instance_ids(self) -> list[str]:
        return [sim.resource.resource_id for sim in self.instances if sim.role is not Role.STOPPED]

    @property
    def stopped_instance_ids(self) -> list[str]:
        return self._ids_with(Role.STOPPED)

    @property
    def idle_instance_ids(self) -> list[str]:
        return self._ids_with(Role.IDLE)

    @property
    def incident_instance_id(self) -> str:
        return self._ids_with(Role.INCIDENT)[0]

    @property
    def table_names(self) -> list[str]:
        return [sim.resource.name for sim in self.tables]

    @property
    def incident_table(self) -> str:
        return next(sim.resource.name for sim in self.tables if sim.role is Role.INCIDENT)

    @property
    def service_names(self) -> list[str]:
        """Return the services as `cluster/service`."""
        return [f"{sim.resource.cluster}/{sim.resource.name}" for sim in self.services]

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready description of the region's fleet."""
        return {
            "vpc_id": self.vpc_id,
            "subnet_ids": self.subnet_ids,
            "instances": len(self.instances),
            "running_instances": len(self.running_instance_ids),
            "stopped_instances": len(self.stopped_instance_ids),
            "idle_instance_ids": self.idle_instance_ids,
            "incident_instance_id": self.incident_instance_id,
            "clusters": list(self.clusters),
            "services": self.service_names,
            "tables": self.table_names,
            "incident_table": self.incident_table,
        }


def _name_tags(resource_type: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def _create_network(ec2: Any, region: str) -> tuple[str, dict[str, str], str, str]:
    """Create the VPC, subnets, gateways and route tables; return (vpc, subnets, igw, nat) ids."""
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=_name_tags("vpc", "oaktree-vpc"))["Vpc"][
        "VpcId"
    ]
    subnet_ids = {}
    for name, (cidr, zone, _public) in SUBNETS.items():
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=f"{region}{zone}",
            TagSpecifications=_name_tags("subnet", f"oaktree-{name}"),
        )
        subnet_ids[name] = subnet["Subnet"]["SubnetId"]
    igw_id = ec2.create_internet_gateway(TagSpecifications=_name_tags("internet-gateway", "oaktree-igw"))[
        "InternetGateway"
    ]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=subnet_ids["public-a"], AllocationId=allocation_id)[
        "NatGateway"
    ]["NatGatewayId"]
    public_rt = ec2.create_route_table(
        VpcId=vpc_id, TagSpecifications=_name_tags("route-table", "oaktree-public")
    )
    private_rt = ec2.create_route_table(
        VpcId=vpc_id, TagSpecifications=_name_tags("route-table", "oaktree-private")
    )
    public_rt_id = public_rt["RouteTable"]["RouteTableId"]
    private_rt_id = private_rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    ec2.create_route(RouteTableId=private_rt_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    for name, (_cidr, _zone, public) in SUBNETS.items():
        ec2.associate_route_table(
            RouteTableId=public_rt_id if public else private_rt_id, SubnetId=subnet_ids[name]
        )
    return vpc_id, subnet_ids, igw_id, nat_id


def _create_instances(
    ec2: Any, region: str, vpc_id: str, subnet_ids: dict[str, str], plan: FleetPlan
) -> tuple[SimulatedResource, ...]:
    created = []
    for planned in plan.instances:
        request: dict[str, Any] = {
            "ImageId": SANDBOX_IMAGE_ID,
            "MinCount": 1,
            "MaxCount": 1,
            "InstanceType": planned.instance_type,
            "SubnetId": subnet_ids[planned.subnet],
        }
        if planned.tags:
            tags = [{"Key": k, "Value": v} for k, v in planned.tags.items()]
            request["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
        reservation = ec2.run_instances(**request)
        instance = reservation["Instances"][0]
        instance_id = instance["InstanceId"]
        state = "stopped" if planned.role is Role.STOPPED else "running"
        resource = Resource(
            resource_id=instance_id,
            arn=f"arn:aws:ec2:{region}:{reservation['OwnerId']}:instance/{instance_id}",
            resource_type=ResourceType.EC2_INSTANCE,
            region=region,
            name=planned.tags.get("Name", instance_id),
            state=state,
            tags=dict(planned.tags),
            instance_type=planned.instance_type,
            vpc_id=vpc_id,
            subnet_id=subnet_ids[planned.subnet],
            availability_zone=instance["Placement"]["AvailabilityZone"],
            private_ip=instance.get("PrivateIpAddress"),
        )
        created.append(
            SimulatedResource(key=f"{region}/{planned.name}", role=planned.role, resource=resource)
        )
    stopped = [sim.resource.resource_id for sim in created if sim.role is Role.STOPPED]
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)
    return tuple(created)


def _create_ecs(ecs: Any, region: str, plan: FleetPlan) -> tuple[SimulatedResource, ...]:
    for cluster in plan.clusters:
        ecs.create_cluster(clusterName=cluster)
    # The seed document's task: 0.25 vCPU, 512 MB, container port 5000.
    task_definition = ecs.register_task_definition(
        family="oaktree-app",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "app",
                "image": "oaktree/app:latest",
                "essential": True,
                "portMappings": [{"containerPort": 5000, "hostPort": 5000}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    created = []
    for planned in plan.services:
        # moto reports a new service's runningCount from this documented variable; setting it
        # per service gives realistic counts, including a service short of tasks.
        previous = os.environ.get("MOTO_ECS_SERVICE_RUNNING")
        os.environ["MOTO_ECS_SERVICE_RUNNING"] = str(planned.running_count)
        try:
            service = ecs.create_service(
                cluster=planned.cluster,
                serviceName=planned.name,
                taskDefinition=task_definition,
                desiredCount=planned.desired_count,
                launchType="FARGATE",
            )["service"]
        finally:
            if previous is None:
                os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
            else:
                os.environ["MOTO_ECS_SERVICE_RUNNING"] = previous
        resource = Resource(
            resource_id=service["serviceArn"],
            arn=service["serviceArn"],
            resource_type=ResourceType.ECS_SERVICE,
            region=region,
            name=planned.name,
            state=service.get("status", "ACTIVE"),
            cluster=planned.cluster,
            desired_count=service["desiredCount"],
            running_count=service["runningCount"],
            launch_type=service.get("launchType"),
        )
        key = f"{region}/{planned.cluster}/{planned.name}"
        created.append(SimulatedResource(key=key, role=Role.NORMAL, resource=resource))
    return tuple(created)


def _table_items(table: PlannedTable, seed: int, region: str) -> Iterator[dict[str, Any]]:
    rng = random.Random(f"{seed}/{region}/{table.name}")
    for index in range(table.item_count):
        item = {table.partition_key: {"S": f"{table.partition_key.split('_')[0]}-{index:04d}"}}
        if table.sort_key:
            item[table.sort_key] = {"S": f"{rng.randint(100000, 999999)}"}
        item["amount"] = {"N": str(rng.randint(1, 500))}
        yield item


def _create_tables(dynamodb: Any, region: str, seed: int, plan: FleetPlan) -> tuple[SimulatedResource, ...]:
    created = []
    for table in plan.tables:
        keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
        request: dict[str, Any] = {
            "TableName": table.name,
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
            "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
        }
        if table.provisioned:
            read, write = table.provisioned
            request["ProvisionedThroughput"] = {"ReadCapacityUnits": read, "WriteCapacityUnits": write}
        else:
            request["BillingMode"] = "PAY_PER_REQUEST"
        description = dynamodb.create_table(**request)["TableDescription"]
        items = [{"PutRequest": {"Item": item}} for item in _table_items(table, seed, region)]
        for offset in range(0, len(items), MAX_BATCH_WRITE_ITEMS):
            dynamodb.batch_write_item(
                RequestItems={table.name: items[offset : offset + MAX_BATCH_WRITE_ITEMS]}
            )
        resource = Resource(
            resource_id=description["TableArn"],
            arn=description["TableArn"],
            resource_type=ResourceType.DYNAMODB_TABLE,
            region=region,
            name=table.name,
            state=description["TableStatus"],
            capacity_mode="PROVISIONED" if table.provisioned else "PAY_PER_REQUEST",
            item_count=table.item_count,
            read_capacity_units=table.provisioned[0] if table.provisioned else None,
            write_capacity_units=table.provisioned[1] if table.provisioned else None,
        )
        created.append(SimulatedResource(key=f"{region}/{table.name}", role=table.role, resource=resource))
    return tuple(created)


def create_region_fleet(*, seed: int, region: str, role: aws.AssumedRole | None = None) -> RegionFleet:
    """Create one region's planned fleet through the configured AWS endpoint and return what was made.

    With `role`, in the role's account (moto keeps each account's resources apart).
    """
    plan = plan_fleet(seed=seed, region=region)
    ec2 = aws.client("ec2", region, role=role)
    vpc_id, subnet_ids, igw_id, nat_id = _create_network(ec2, region)
    instances = _create_instances(ec2, region, vpc_id, subnet_ids, plan)
    services = _create_ecs(aws.client("ecs", region, role=role), region, plan)
    tables = _create_tables(aws.client("dynamodb", region, role=role), region, seed, plan)
    fleet = RegionFleet(
        region=region,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        internet_gateway_id=igw_id,
        nat_gateway_id=nat_id,
        instances=instances,
        clusters=plan.clusters,
        services=services,
        tables=tables,
    )
    log.info("sandbox_region_populated", region=region, instances=len(instances), services=len(services))
    return fleet


@dataclasses.dataclass(frozen=True, slots=True)
class Fleet:
    """The whole sandbox fleet: every region's resources plus what drives their metrics."""

    seed: int
    incidents: IncidentSchedule
    regions: dict[str, RegionFleet]

    @property
    def resources(self) -> tuple[SimulatedResource, ...]:
        """Return every resource with catalogue metrics, in every region."""
        return tuple(sim for region in self.regions.values() for sim in region.resources)

    def simulated(self, resource_id: str) -> SimulatedResource:
        """Return the simulated resource with this resource id (instance id or ARN)."""
        for sim in self.resources:
            if sim.resource.resource_id == resource_id:
                return sim
        raise KeyError(f"no sandbox resource {resource_id}")

    def expected_value(self, resource_id: str, spec: MetricSpec, minute: datetime) -> float | None:
        """Return what the sandbox writes for one series at one minute (None: no datapoint)."""
        return expected_value(
            seed=self.seed,
            simulated=self.simulated(resource_id),
            spec=spec,
            minute=minute,
            incidents=self.incidents,
        )

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready description of the fleet."""
        return {
            "seed": self.seed,
            "incident_window_start": self.incidents.first_start,
            "incident_window_minutes": int(self.incidents.duration.total_seconds() // 60),
            "fleet": {name: region.summary() for name, region in self.regions.items()},
        }
