"""The metric catalogue: which CloudWatch metrics OakTree collects for each resource type.

Defined once, as data: adding a metric is one line in `CATALOGUE`. Queries are built from the
inventory (the dimensions are known), so steady-state collection never calls ListMetrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from oaktree.inventory import Resource, ResourceType

# CloudWatch's own dimension names per resource type, filled from the inventory.
DIMENSIONS: dict[ResourceType, Callable[[Resource], dict[str, str]]] = {
    ResourceType.EC2_INSTANCE: lambda r: {"InstanceId": r.resource_id},
    ResourceType.ECS_SERVICE: lambda r: {"ClusterName": r.cluster or "", "ServiceName": r.name},
    ResourceType.DYNAMODB_TABLE: lambda r: {"TableName": r.name},
}

NAMESPACES: dict[ResourceType, str] = {
    ResourceType.EC2_INSTANCE: "AWS/EC2",
    ResourceType.ECS_SERVICE: "AWS/ECS",
    ResourceType.DYNAMODB_TABLE: "AWS/DynamoDB",
}


@dataclasses.dataclass(frozen=True, slots=True)
class MetricSpec:
    """One CloudWatch metric collected for every resource of a type.

    `operation` adds DynamoDB's `Operation` dimension: ThrottledRequests and
    SuccessfulRequestLatency exist only per operation, so each operation is its own series,
    stored under `series_name` (for example `ThrottledRequests:PutItem`).
    """

    resource_type: ResourceType
    metric_name: str
    statistics: tuple[str, ...]
    unit: str
    period: int = 60
    operation: str | None = None

    @property
    def namespace(self) -> str:
        return NAMESPACES[self.resource_type]

    @property
    def series_name(self) -> str:
        """Return the metric name as stored: the CloudWatch name, plus the operation if any."""
        return f"{self.metric_name}:{self.operation}" if self.operation else self.metric_name

    def dimensions(self, resource: Resource) -> dict[str, str]:
        """Return the CloudWatch dimensions of this metric for one resource."""
        dims = DIMENSIONS[self.resource_type](resource)
        if self.operation:
            dims["Operation"] = self.operation
        return dims


_EC2, _ECS, _DDB = ResourceType.EC2_INSTANCE, ResourceType.ECS_SERVICE, ResourceType.DYNAMODB_TABLE
_AVG_MAX = ("Average", "Maximum")

CATALOGUE: tuple[MetricSpec, ...] = (
    MetricSpec(_EC2, "CPUUtilization", _AVG_MAX, "Percent"),
    MetricSpec(_EC2, "NetworkIn", ("Sum",), "Bytes"),
    MetricSpec(_EC2, "NetworkOut", ("Sum",), "Bytes"),
    MetricSpec(_EC2, "DiskReadOps", ("Sum",), "Count"),
    MetricSpec(_EC2, "DiskWriteOps", ("Sum",), "Count"),
    MetricSpec(_EC2, "StatusCheckFailed", ("Maximum",), "Count"),
    MetricSpec(_ECS, "CPUUtilization", _AVG_MAX, "Percent"),
    MetricSpec(_ECS, "MemoryUtilization", _AVG_MAX, "Percent"),
    MetricSpec(_DDB, "ConsumedReadCapacityUnits", ("Sum",), "Count"),
    MetricSpec(_DDB, "ConsumedWriteCapacityUnits", ("Sum",), "Count"),
    MetricSpec(_DDB, "ThrottledRequests", ("Sum",), "Count", operation="GetItem"),
    MetricSpec(_DDB, "ThrottledRequests", ("Sum",), "Count", operation="PutItem"),
    MetricSpec(_DDB, "ThrottledRequests", ("Sum",), "Count", operation="Query"),
    MetricSpec(_DDB, "SuccessfulRequestLatency", ("Average",), "Milliseconds", operation="GetItem"),
    MetricSpec(_DDB, "SuccessfulRequestLatency", ("Average",), "Milliseconds", operation="PutItem"),
)


def specs_for(resource_type: ResourceType) -> tuple[MetricSpec, ...]:
    """Return the catalogue entries for one resource type (empty for types without metrics)."""
    return tuple(spec for spec in CATALOGUE if spec.resource_type is resource_type)


def metrics_of(resources: list[Resource]) -> Iterator[tuple[Resource, MetricSpec]]:
    """Yield every (resource, metric) pair the catalogue defines for an inventory."""
    for resource in resources:
        for spec in specs_for(resource.resource_type):
            yield resource, spec
