"""The infrastructure map: the estate as a tree of nodes with a health each, kept small enough to draw.

The tree is region -> VPC -> subnet -> EC2 instance, region -> ECS cluster -> service and
region -> DynamoDB -> table; with several AWS accounts the roots are (account, region) pairs.
A resource's health is ALARM when any alert rule is in ALARM on it,
STOPPED when it is not serving (a stopped instance, a service scaled to zero, an inactive cluster
or a table being deleted), else OK. A group's health is the worst of what it holds, except that
a group is STOPPED only when everything in it is: one stopped instance does not grey a VPC.

A thousand resources drawn one node each are unreadable, so a group with more children than
`max_children` shows its children in ALARM (a problem is never hidden inside a group) and one
summary node counting the rest; the caller expands a group by naming it in `expanded`. Filters
(types, health, text) keep only the matching resources and the groups that lead to them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from oaktree.inventory import ResourceType


class Health(enum.StrEnum):
    """A node's health, worst first: what the map colours it by."""

    ALARM = "ALARM"
    STOPPED = "STOPPED"
    OK = "OK"


class NodeKind(enum.StrEnum):
    """What a node of the map stands for."""

    REGION = "region"
    VPC = "vpc"
    SUBNET = "subnet"
    EC2_INSTANCE = ResourceType.EC2_INSTANCE.value
    ECS_CLUSTER = ResourceType.ECS_CLUSTER.value
    ECS_SERVICE = ResourceType.ECS_SERVICE.value
    DYNAMODB = "dynamodb"
    DYNAMODB_TABLE = ResourceType.DYNAMODB_TABLE.value
    SUMMARY = "summary"


# States in which a resource is deliberately not serving; anything else (running, pending,
# ACTIVE, UPDATING, ...) is OK unless an alert says otherwise.
_NOT_SERVING = {
    ResourceType.EC2_INSTANCE.value: {"stopped", "stopping", "shutting-down", "terminated"},
    ResourceType.ECS_CLUSTER.value: {"INACTIVE", "DEPROVISIONING", "FAILED"},
    ResourceType.ECS_SERVICE.value: {"INACTIVE", "DRAINING"},
    ResourceType.DYNAMODB_TABLE.value: {
        "DELETING",
        "ARCHIVING",
        "ARCHIVED",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
    },
}
NO_VPC = "no VPC"
NO_SUBNET = "no subnet"
DEFAULT_MAX_CHILDREN = 25


@dataclasses.dataclass(frozen=True, slots=True)
class MapNode:
    """One node: a group (region, VPC, subnet, DynamoDB), a resource, or a summary of hidden ones.

    `resource_id` is set on resource nodes (they open the resource's page); `group` on group
    nodes and on a summary (the group it summarises, which expanding shows in full). `counts`
    holds the resources at or under the node by health.
    """

    node_id: str
    kind: NodeKind
    label: str
    health: Health
    parent: str | None
    depth: int
    region: str
    resource_id: str | None = None
    group: str | None = None
    state: str | None = None
    alarms: tuple[str, ...] = ()
    counts: Mapping[Health, int] = dataclasses.field(default_factory=dict)

    @property
    def resources(self) -> int:
        """Return how many resources the node stands for (1 for a resource without children)."""
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        """Return one line for a tooltip: what the node is and what it holds."""
        parts = [f"{self.kind.value.replace('_', ' ')}: {self.label}"]
        if self.state:
            parts.append(f"state {self.state}")
        if self.alarms:
            parts.append(f"in ALARM: {', '.join(self.alarms)}")
        if self.kind not in _RESOURCE_KINDS or self.kind is NodeKind.ECS_CLUSTER:
            held = ", ".join(f"{count} {health.value}" for health, count in self.counts.items() if count)
            if held:
                parts.append(held)
        return "; ".join(parts)


_RESOURCE_KINDS = {
    NodeKind.EC2_INSTANCE,
    NodeKind.ECS_CLUSTER,
    NodeKind.ECS_SERVICE,
    NodeKind.DYNAMODB_TABLE,
}


@dataclasses.dataclass(frozen=True, slots=True)
class InfraMap:
    """The map to draw: nodes parents first, and what was left out."""

    nodes: list[MapNode]
    collapsed: list[str]  # groups shown as a summary node (expandable)
    total_resources: int  # in the inventory given
    matching_resources: int  # after the filters
    shown_resources: int  # drawn as their own node
    health_by_resource: Mapping[str, Health] = dataclasses.field(default_factory=dict)  # matching ones

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Return (parent, child) node ids."""
        return [(node.parent, node.node_id) for node in self.nodes if node.parent is not None]

    def node(self, node_id: str) -> MapNode:
        """Return a node by id (KeyError when it is not on the map)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    def counts(self) -> dict[Health, int]:
        """Return the matching resources by health."""
        totals: Counter[Health] = Counter()
        for node in self.nodes:
            if node.kind is NodeKind.REGION:
                totals.update(node.counts)
        return {health: totals.get(health, 0) for health in Health}


def resource_health(resource_type: str, state: str | None, alarms: Collection[str]) -> Health:
    """Return one resource's health from its state and the rules in ALARM on it."""
    if alarms:
        return Health.ALARM
    if state in _NOT_SERVING.get(resource_type, set()):
        return Health.STOPPED
    return Health.OK


def group_health(counts: Mapping[Health, int]) -> Health:
    """Return a group's health: ALARM if anything in it is, STOPPED only if everything in it is."""
    if counts.get(Health.ALARM, 0):
        return Health.ALARM
    if counts.get(Health.STOPPED, 0) and not counts.get(Health.OK, 0):
        return Health.STOPPED
    return Health.OK


def alarms_by_resource(rules: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Return, per resource id, the names of the rules in ALARM on it (from `service.list_rules`)."""
    alarms: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for state in rule.get("states", ()):
            if state.get("state") == "ALARM":
                alarms[state["resource_id"]].append(str(rule["name"]))
    return {resource_id: sorted(names) for resource_id, names in alarms.items()}


@dataclasses.dataclass(slots=True)
class _Group:
    node_id: str
    kind: NodeKind
    label: str
    region: str
    parent: str | None
    resource: Mapping[str, Any] | None = None  # an ECS cluster is a group and a resource
    children: list[str] = dataclasses.field(default_factory=list)


def _text(value: Any) -> str | None:
    """Return a value as text, or None for null and NaN (pandas gives NaN for a missing string)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _matches(record: Mapping[str, Any], search: str) -> bool:
    needle = search.lower()
    tags = record.get("tags") or {}
    haystack = [record.get("resource_id"), record.get("name"), *dict(tags).values()]
    return any(needle in str(value).lower() for value in haystack if value is not None)


def build_map(
    resources: Iterable[Mapping[str, Any]],
    alarms: Mapping[str, Sequence[str]],
    *,
    resource_types: Collection[str] | None = None,
    health: Collection[Health] | None = None,
    search: str | None = None,
    expanded: Collection[str] = (),
    max_children: int = DEFAULT_MAX_CHILDREN,
) -> InfraMap:
    """Return the map of an inventory (rows of `read.inventory`) with the rules in ALARM per resource.

    `resource_types`, `health` and `search` (id, name or tag value) keep only the resources that
    match; groups with more than `max_children` children are collapsed unless named in `expanded`.
    """
    records = [dict(record) for record in resources]
    total = len(records)
    healths: dict[str, Health] = {}
    for record in records:
        record_id = str(record["resource_id"])
        healths[record_id] = resource_health(
            str(record["resource_type"]), _text(record.get("state")), alarms.get(record_id, ())
        )

    def wanted(record: Mapping[str, Any]) -> bool:
        if resource_types and record["resource_type"] not in resource_types:
            return False
        if health and healths[str(record["resource_id"])] not in health:
            return False
        return not search or _matches(record, search)

    # ECS clusters are groups as well as resources: keep a cluster whose services match.
    matching = [record for record in records if wanted(record)]
    matching_ids = {str(record["resource_id"]) for record in matching}
    groups: dict[str, _Group] = {}
    leaves: dict[str, Mapping[str, Any]] = {}

    def group(node_id: str, kind: NodeKind, label: str, region: str, parent: str | None) -> _Group:
        if node_id not in groups:
            groups[node_id] = _Group(node_id, kind, label, region, parent)
            if parent is not None:
                groups[parent].children.append(node_id)
        return groups[node_id]

    # With several AWS accounts each account's region is its own root: the same region of two
    # accounts holds different VPCs, and ids such as VPC or cluster names may repeat across them.
    several_accounts = len({_text(record.get("account_id")) for record in records}) > 1

    def scope_of(record: Mapping[str, Any]) -> tuple[str, str]:
        """Return the key of a record's root (region, or account and region) and the root's label."""
        region = str(record["region"])
        account = _text(record.get("account_id"))
        if several_accounts and account:
            return f"{account}:{region}", f"{region} · {account}"
        return region, region

    clusters = {
        (scope_of(r)[0], str(r["name"])): r
        for r in records
        if r["resource_type"] == ResourceType.ECS_CLUSTER.value
    }
    for record in sorted(matching, key=lambda r: (scope_of(r)[0], str(r["resource_type"]), str(r["name"]))):
        region = str(record["region"])
        scope, scope_label = scope_of(record)
        region_id = f"region:{scope}"
        group(region_id, NodeKind.REGION, scope_label, region, None)
        kind = record["resource_type"]
        record_id = str(record["resource_id"])
        if kind == ResourceType.EC2_INSTANCE.value:
            vpc = _text(record.get("vpc_id")) or NO_VPC
            subnet = _text(record.get("subnet_id")) or NO_SUBNET
            vpc_id = f"vpc:{scope}:{vpc}"
            group(vpc_id, NodeKind.VPC, vpc, region, region_id)
            parent = group(f"subnet:{scope}:{vpc}:{subnet}", NodeKind.SUBNET, subnet, region, vpc_id)
        elif kind == ResourceType.ECS_CLUSTER.value:
            cluster = group(record_id, NodeKind.ECS_CLUSTER, str(record["name"]), region, region_id)
            cluster.resource = record
            continue
        elif kind == ResourceType.ECS_SERVICE.value:
            cluster_name = _text(record.get("cluster")) or "unknown cluster"
            cluster_record = clusters.get((scope, cluster_name))
            cluster_id = (
                str(cluster_record["resource_id"]) if cluster_record else f"cluster:{scope}:{cluster_name}"
            )
            parent = group(cluster_id, NodeKind.ECS_CLUSTER, cluster_name, region, region_id)
            if cluster_record is not None:
                parent.resource = cluster_record
        elif kind == ResourceType.DYNAMODB_TABLE.value:
            parent = group(f"dynamodb:{scope}", NodeKind.DYNAMODB, "DynamoDB", region, region_id)
        else:  # a type this map does not know yet still shows, under its region
            parent = groups[region_id]
        parent.children.append(record_id)
        leaves[record_id] = record

    nodes: list[MapNode] = []
    collapsed: list[str] = []
    shown = 0

    def leaf_node(record: Mapping[str, Any], parent: str, depth: int) -> MapNode:
        record_id = str(record["resource_id"])
        node_health = healths[record_id]
        return MapNode(
            node_id=record_id,
            kind=NodeKind(record["resource_type"]),
            label=str(record.get("name") or record_id),
            health=node_health,
            parent=parent,
            depth=depth,
            region=str(record["region"]),
            resource_id=record_id,
            state=_text(record.get("state")),
            alarms=tuple(alarms.get(record_id, ())),
            counts={node_health: 1},
        )

    def emit(group_id: str, depth: int) -> Counter[Health]:
        """Append a group's node and what it shows beneath; return its resources by health."""
        nonlocal shown
        current = groups[group_id]
        position = len(nodes)
        nodes.append(
            MapNode(group_id, current.kind, current.label, Health.OK, current.parent, depth, current.region)
        )
        counts: Counter[Health] = Counter()
        own = current.resource
        if own is not None and str(own["resource_id"]) in matching_ids:
            counts[healths[str(own["resource_id"])]] += 1
        child_leaves = [child for child in current.children if child in leaves]
        child_groups = [child for child in current.children if child in groups]
        for child in child_groups:
            counts += emit(child, depth + 1)
        collapse = len(current.children) > max_children and group_id not in expanded
        hidden: Counter[Health] = Counter()
        for child in child_leaves:
            leaf_health = healths[child]
            counts[leaf_health] += 1
            if collapse and leaf_health is not Health.ALARM:
                hidden[leaf_health] += 1
                continue
            nodes.append(leaf_node(leaves[child], group_id, depth + 1))
            shown += 1
        if hidden:
            collapsed.append(group_id)
            hidden_total = sum(hidden.values())
            nodes.append(
                MapNode(
                    node_id=f"summary:{group_id}",
                    kind=NodeKind.SUMMARY,
                    label=f"{hidden_total} more",
                    health=group_health(hidden),
                    parent=group_id,
                    depth=depth + 1,
                    region=current.region,
                    group=group_id,
                    counts={health: hidden.get(health, 0) for health in Health},
                )
            )
        node_counts = {health: counts.get(health, 0) for health in Health}
        node = MapNode(
            node_id=group_id,
            kind=current.kind,
            label=current.label,
            health=group_health(node_counts),
            parent=current.parent,
            depth=depth,
            region=current.region,
            group=group_id,
            counts=node_counts,
        )
        if own is not None:
            own_id = str(own["resource_id"])
            shown += own_id in matching_ids
            node = dataclasses.replace(
                node,
                resource_id=own_id,
                state=_text(own.get("state")),
                alarms=tuple(alarms.get(own_id, ())),
                # A cluster in ALARM itself is red even when its services are fine.
                health=Health.ALARM if healths[own_id] is Health.ALARM else node.health,
            )
        nodes[position] = node
        return counts

    for region_id in sorted(group_id for group_id, g in groups.items() if g.kind is NodeKind.REGION):
        emit(region_id, 0)
    return InfraMap(
        nodes=nodes,
        collapsed=collapsed,
        total_resources=total,
        matching_resources=len(matching),
        shown_resources=shown,
        health_by_resource={record_id: healths[record_id] for record_id in sorted(matching_ids)},
    )
