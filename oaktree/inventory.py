"""The resource inventory: what discovery found, as plain dataclasses shared by every layer."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any


class ResourceType(enum.StrEnum):
    """Kinds of AWS resource OakTree discovers; the value is what stores and views hold."""

    EC2_INSTANCE = "ec2_instance"
    ECS_CLUSTER = "ecs_cluster"
    ECS_SERVICE = "ecs_service"
    DYNAMODB_TABLE = "dynamodb_table"


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """One discovered resource with the service fields the dashboard and the collector need.

    `resource_id` is unique across the estate: the instance id (AWS never gives two instances
    one id, in any account), or the ARN for ECS and DynamoDB (a table or cluster name alone
    repeats across regions and accounts; the ARN names both).
    """

    resource_id: str
    arn: str
    resource_type: ResourceType
    region: str
    name: str
    state: str
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # Service fields; None where they do not apply to the type.
    instance_type: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    availability_zone: str | None = None
    private_ip: str | None = None
    cluster: str | None = None
    desired_count: int | None = None
    running_count: int | None = None
    launch_type: str | None = None
    capacity_mode: str | None = None
    item_count: int | None = None
    # The AWS account that owns the resource (None: inventories saved before accounts were kept).
    account_id: str | None = None
    # Provisioned throughput of a DynamoDB table (None on demand): rightsizing compares it with
    # the consumed capacity. Last, so lakes created before them gain the columns at the end.
    read_capacity_units: int | None = None
    write_capacity_units: int | None = None

    def to_record(self) -> dict[str, Any]:
        """Return the resource as a flat dict (tags kept as a dict) for stores and JSON."""
        record = dataclasses.asdict(self)
        record["resource_type"] = self.resource_type.value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Resource:
        """Rebuild a resource from `to_record` output (extra keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in record.items() if key in names}
        values["resource_type"] = ResourceType(values["resource_type"])
        values["tags"] = dict(values.get("tags") or {})
        return cls(**values)
