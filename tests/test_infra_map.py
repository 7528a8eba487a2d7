"""The infrastructure map's tree, health and collapsing, from inventory rows (no warehouse needed)."""

from __future__ import annotations

from typing import Any

import pytest

from oaktree.infra_map import (
    NO_VPC,
    Health,
    NodeKind,
    alarms_by_resource,
    build_map,
    group_health,
    resource_health,
)

REGION = "us-east-1"
OTHER = "ap-southeast-1"


def instance(
    rid: str,
    *,
    region: str = REGION,
    vpc: str | None = "vpc-1",
    subnet: str | None = "subnet-a",
    state: str = "running",
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "resource_id": rid,
        "resource_type": "ec2_instance",
        "region": region,
        "name": f"name-{rid}",
        "state": state,
        "tags": tags or {},
        "vpc_id": vpc,
        "subnet_id": subnet,
        "cluster": None,
    }


def cluster(name: str, *, region: str = REGION, state: str = "ACTIVE") -> dict[str, Any]:
    arn = f"arn:aws:ecs:{region}:1:cluster/{name}"
    return {
        "resource_id": arn,
        "resource_type": "ecs_cluster",
        "region": region,
        "name": name,
        "state": state,
    }


def service(name: str, cluster_name: str, *, region: str = REGION, state: str = "ACTIVE") -> dict[str, Any]:
    arn = f"arn:aws:ecs:{region}:1:service/{cluster_name}/{name}"
    return {
        "resource_id": arn,
        "resource_type": "ecs_service",
        "region": region,
        "name": name,
        "state": state,
        "cluster": cluster_name,
    }


def table(name: str, *, region: str = REGION, state: str = "ACTIVE") -> dict[str, Any]:
    arn = f"arn:aws:dynamodb:{region}:1:table/{name}"
    return {
        "resource_id": arn,
        "resource_type": "dynamodb_table",
        "region": region,
        "name": name,
        "state": state,
    }


def test_resource_health_alarm_beats_state_and_stopped_needs_a_not_serving_state() -> None:
    assert resource_health("ec2_instance", "running", ["high-cpu"]) is Health.ALARM
    assert resource_health("ec2_instance", "stopped", ["high-cpu"]) is Health.ALARM
    assert resource_health("ec2_instance", "stopped", []) is Health.STOPPED
    assert resource_health("ec2_instance", "pending", []) is Health.OK
    assert resource_health("ecs_service", "DRAINING", []) is Health.STOPPED
    assert resource_health("ecs_cluster", "INACTIVE", []) is Health.STOPPED
    assert resource_health("dynamodb_table", "UPDATING", []) is Health.OK
    assert resource_health("dynamodb_table", "DELETING", []) is Health.STOPPED


def test_group_health_is_alarm_if_any_and_stopped_only_if_all() -> None:
    assert group_health({Health.ALARM: 1, Health.OK: 9}) is Health.ALARM
    assert group_health({Health.STOPPED: 1, Health.OK: 9}) is Health.OK
    assert group_health({Health.STOPPED: 3, Health.OK: 0}) is Health.STOPPED
    assert group_health({}) is Health.OK


def test_alarms_by_resource_reads_the_service_listing() -> None:
    rules = [
        {
            "name": "high-cpu",
            "states": [{"resource_id": "i-1", "state": "ALARM"}, {"resource_id": "i-2", "state": "OK"}],
        },
        {"name": "disk", "states": [{"resource_id": "i-1", "state": "ALARM"}]},
        {"name": "quiet", "states": []},
    ]
    assert alarms_by_resource(rules) == {"i-1": ["disk", "high-cpu"]}


def test_tree_links_region_vpc_subnet_instance_cluster_service_and_tables() -> None:
    inventory = [
        instance("i-1"),
        instance("i-2", subnet="subnet-b"),
        instance("i-3", region=OTHER, vpc="vpc-9", subnet="subnet-z"),
        cluster("web"),
        service("api", "web"),
        table("orders"),
    ]
    infra_map = build_map(inventory, {})
    parent = {node.node_id: node.parent for node in infra_map.nodes}
    kind = {node.node_id: node.kind for node in infra_map.nodes}

    assert parent["i-1"] == f"subnet:{REGION}:vpc-1:subnet-a"
    assert parent["i-2"] == f"subnet:{REGION}:vpc-1:subnet-b"
    assert parent[f"subnet:{REGION}:vpc-1:subnet-a"] == f"vpc:{REGION}:vpc-1"
    assert parent[f"vpc:{REGION}:vpc-1"] == f"region:{REGION}"
    assert parent["i-3"] == f"subnet:{OTHER}:vpc-9:subnet-z"
    cluster_arn = cluster("web")["resource_id"]
    assert parent[service("api", "web")["resource_id"]] == cluster_arn
    assert parent[cluster_arn] == f"region:{REGION}"
    assert kind[cluster_arn] is NodeKind.ECS_CLUSTER
    assert parent[table("orders")["resource_id"]] == f"dynamodb:{REGION}"
    assert parent[f"dynamodb:{REGION}"] == f"region:{REGION}"
    assert [node.node_id for node in infra_map.nodes if node.parent is None] == [
        f"region:{OTHER}",
        f"region:{REGION}",
    ]
    # Parents come before their children (the chart's layout relies on it), and ids are unique.
    seen: set[str] = set()
    for node in infra_map.nodes:
        assert node.parent is None or node.parent in seen
        seen.add(node.node_id)
    assert len(seen) == len(infra_map.nodes)
    # Every resource is a node that opens its page; the cluster is both group and resource.
    assert {node.resource_id for node in infra_map.nodes if node.resource_id} == {
        r["resource_id"] for r in inventory
    }
    assert infra_map.edges[0] == (f"region:{OTHER}", f"vpc:{OTHER}:vpc-9")
    assert infra_map.shown_resources == infra_map.matching_resources == infra_map.total_resources == 6


def test_health_aggregates_upward_with_counts() -> None:
    inventory = [
        instance("i-hot"),
        instance("i-off", state="stopped"),
        instance("i-ok"),
        instance("i-lone-off", subnet="subnet-b", state="stopped"),
        cluster("web"),
        service("api", "web"),
    ]
    infra_map = build_map(inventory, {"i-hot": ["high-cpu"]})
    node = {n.node_id: n for n in infra_map.nodes}

    assert node["i-hot"].health is Health.ALARM
    assert node["i-hot"].alarms == ("high-cpu",)
    assert "in ALARM: high-cpu" in node["i-hot"].summary
    assert node["i-off"].health is Health.STOPPED
    subnet_a = node[f"subnet:{REGION}:vpc-1:subnet-a"]
    assert subnet_a.health is Health.ALARM
    assert dict(subnet_a.counts) == {Health.ALARM: 1, Health.STOPPED: 1, Health.OK: 1}
    # A subnet whose only instance is stopped is stopped; its VPC, holding an alarm, is ALARM.
    assert node[f"subnet:{REGION}:vpc-1:subnet-b"].health is Health.STOPPED
    assert node[f"vpc:{REGION}:vpc-1"].health is Health.ALARM
    region = node[f"region:{REGION}"]
    assert dict(region.counts) == {Health.ALARM: 1, Health.STOPPED: 2, Health.OK: 3}
    assert infra_map.counts() == {Health.ALARM: 1, Health.STOPPED: 2, Health.OK: 3}
    assert node[cluster("web")["resource_id"]].health is Health.OK


def test_a_cluster_in_alarm_is_red_and_a_service_scaled_away_greys_only_itself() -> None:
    web = cluster("web")
    drained = service("old", "web", state="DRAINING")
    infra_map = build_map([web, service("api", "web"), drained], {web["resource_id"]: ["cluster-cpu"]})
    node = {n.node_id: n for n in infra_map.nodes}
    assert node[web["resource_id"]].health is Health.ALARM
    assert node[web["resource_id"]].alarms == ("cluster-cpu",)
    assert node[drained["resource_id"]].health is Health.STOPPED


def test_resources_without_network_or_known_cluster_still_show() -> None:
    orphan = service("lost", "gone-cluster")
    infra_map = build_map([instance("i-1", vpc=None, subnet=None), orphan], {})
    node = {n.node_id: n for n in infra_map.nodes}
    assert node["i-1"].parent == f"subnet:{REGION}:{NO_VPC}:no subnet"
    assert node[f"vpc:{REGION}:{NO_VPC}"].label == NO_VPC
    synthetic = node[orphan["resource_id"]].parent
    assert synthetic == f"cluster:{REGION}:gone-cluster"
    assert node[synthetic].resource_id is None  # no page to open for a cluster not in the inventory


def test_nan_fields_from_pandas_count_as_missing() -> None:
    row = instance("i-1")
    row["vpc_id"] = float("nan")
    row["subnet_id"] = float("nan")
    infra_map = build_map([row], {})
    assert infra_map.node("i-1").parent == f"subnet:{REGION}:{NO_VPC}:no subnet"


def big_subnet(count: int, *, stopped: set[int]) -> list[dict[str, Any]]:
    return [instance(f"i-{n:04d}", state="stopped" if n in stopped else "running") for n in range(count)]


def test_a_large_group_collapses_into_a_summary_but_keeps_its_alarms_visible() -> None:
    inventory = big_subnet(60, stopped={5, 6})
    alarms = {"i-0003": ["high-cpu"], "i-0040": ["high-cpu"]}
    infra_map = build_map(inventory, alarms, max_children=25)
    subnet_id = f"subnet:{REGION}:vpc-1:subnet-a"

    leaves = [n.node_id for n in infra_map.nodes if n.kind is NodeKind.EC2_INSTANCE]
    assert leaves == ["i-0003", "i-0040"]
    summary = infra_map.node(f"summary:{subnet_id}")
    assert summary.kind is NodeKind.SUMMARY
    assert summary.group == subnet_id
    assert summary.parent == subnet_id
    assert summary.label == "58 more"
    assert dict(summary.counts) == {Health.ALARM: 0, Health.STOPPED: 2, Health.OK: 56}
    assert summary.health is Health.OK
    assert infra_map.collapsed == [subnet_id]
    assert infra_map.shown_resources == 2
    # The group's own counts still include what the summary hides.
    assert dict(infra_map.node(subnet_id).counts) == {Health.ALARM: 2, Health.STOPPED: 2, Health.OK: 56}
    assert infra_map.health_by_resource["i-0005"] is Health.STOPPED

    opened = build_map(inventory, alarms, max_children=25, expanded={subnet_id})
    assert opened.collapsed == []
    assert opened.shown_resources == 60
    assert not [n for n in opened.nodes if n.kind is NodeKind.SUMMARY]


def test_filters_keep_matching_resources_and_the_groups_leading_to_them() -> None:
    inventory = [
        instance("i-hot", tags={"team": "payments"}),
        instance("i-off", state="stopped", subnet="subnet-b"),
        instance("i-ok", region=OTHER, vpc="vpc-9"),
        cluster("web"),
        service("api", "web"),
        table("orders"),
    ]
    alarms = {"i-hot": ["high-cpu"]}

    only_problems = build_map(inventory, alarms, health={Health.ALARM, Health.STOPPED})
    assert {n.node_id for n in only_problems.nodes} == {
        f"region:{REGION}",
        f"vpc:{REGION}:vpc-1",
        f"subnet:{REGION}:vpc-1:subnet-a",
        f"subnet:{REGION}:vpc-1:subnet-b",
        "i-hot",
        "i-off",
    }
    assert only_problems.matching_resources == 2
    assert only_problems.total_resources == 6

    services = build_map(inventory, alarms, resource_types={"ecs_service"})
    api = service("api", "web")["resource_id"]
    web = cluster("web")["resource_id"]
    assert {n.node_id for n in services.nodes} == {f"region:{REGION}", web, api}
    # The cluster is drawn to lead to its service but is not itself a match.
    assert dict(services.node(web).counts) == {Health.ALARM: 0, Health.STOPPED: 0, Health.OK: 1}

    by_tag = build_map(inventory, alarms, search="PAYMENTS")
    assert [n.node_id for n in by_tag.nodes if n.resource_id] == ["i-hot"]
    assert build_map(inventory, alarms, search="no-such-thing").nodes == []


def test_a_thousand_resources_map_into_a_readable_number_of_nodes() -> None:
    regions = [REGION, OTHER]
    inventory: list[dict[str, Any]] = []
    for n in range(800):
        inventory.append(
            instance(
                f"i-{n:05d}",
                region=regions[n % 2],
                vpc=f"vpc-{n % 3}",
                subnet=f"subnet-{n % 6}",
                state="stopped" if n % 50 == 0 else "running",
            )
        )
    for c in range(10):
        inventory.append(cluster(f"c{c}", region=regions[c % 2]))
        inventory += [service(f"s{c}-{s}", f"c{c}", region=regions[c % 2]) for s in range(12)]
    inventory += [table(f"t{t}", region=regions[t % 2]) for t in range(80)]
    alarms = {f"i-{n:05d}": ["high-cpu"] for n in range(0, 800, 97)}
    assert len(inventory) == 1010
    infra_map = build_map(inventory, alarms)

    assert infra_map.total_resources == infra_map.matching_resources == 1010
    assert len(infra_map.nodes) < 200
    shown_alarms = {n.node_id for n in infra_map.nodes if n.health is Health.ALARM and n.resource_id}
    assert shown_alarms == set(alarms)  # every alarm stays visible through the collapsing
    assert infra_map.counts()[Health.ALARM] == len(alarms)
    assert infra_map.counts()[Health.STOPPED] == 15  # 16 stopped, of which i-00000 is in ALARM


@pytest.mark.parametrize("max_children", [0, 1])
def test_tiny_thresholds_still_produce_a_consistent_tree(max_children: int) -> None:
    infra_map = build_map([instance("i-1"), instance("i-2"), table("orders")], {}, max_children=max_children)
    ids = {n.node_id for n in infra_map.nodes}
    assert all(n.parent in ids for n in infra_map.nodes if n.parent)
    assert sum(n.resources for n in infra_map.nodes if n.kind is NodeKind.REGION) == 3


def test_two_accounts_with_the_same_region_and_vpc_name_are_separate_roots() -> None:
    ours = {**instance("i-1", vpc="vpc-main"), "account_id": "111111111111"}
    theirs = {**instance("i-2", vpc="vpc-main"), "account_id": "222222222222"}

    infra_map = build_map([ours, theirs], {})
    parent = {node.node_id: node.parent for node in infra_map.nodes}
    label = {node.node_id: node.label for node in infra_map.nodes}

    assert parent["i-1"] == f"subnet:111111111111:{REGION}:vpc-main:subnet-a"
    assert parent["i-2"] == f"subnet:222222222222:{REGION}:vpc-main:subnet-a"
    roots = [node.node_id for node in infra_map.nodes if node.parent is None]
    assert roots == [f"region:111111111111:{REGION}", f"region:222222222222:{REGION}"]
    assert label[f"region:222222222222:{REGION}"] == f"{REGION} · 222222222222"


def test_one_account_keeps_plain_region_roots() -> None:
    infra_map = build_map([{**instance("i-1"), "account_id": "111111111111"}], {})

    assert [node.node_id for node in infra_map.nodes if node.parent is None] == [f"region:{REGION}"]
