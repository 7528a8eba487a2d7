"""The infrastructure map drawn as an ECharts graph: a left-to-right tree coloured by health.

Positions are computed here (a tidy tree: leaves one under another, each group centred on what
it holds) rather than by ECharts' force layout, so the picture is the same on every load and
does not move under the pointer. Everything is plain JSON: ECharts ships inside Streamlit, so the
map works offline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from oaktree.infra_map import Health, InfraMap, MapNode, NodeKind

HEALTH_COLOURS = {Health.ALARM: "#d64545", Health.STOPPED: "#9a9a9a", Health.OK: "#3c9a5f"}
HEALTH_LABELS = {Health.ALARM: "ALARM", Health.STOPPED: "Stopped", Health.OK: "OK"}
_CATEGORIES = list(Health)

_SYMBOLS = {
    NodeKind.REGION: ("roundRect", 30),
    NodeKind.VPC: ("roundRect", 22),
    NodeKind.SUBNET: ("roundRect", 17),
    NodeKind.ECS_CLUSTER: ("roundRect", 20),
    NodeKind.DYNAMODB: ("roundRect", 20),
    NodeKind.SUMMARY: ("diamond", 18),
}
_RESOURCE_SYMBOL = ("circle", 12)


def _positions(infra_map: InfraMap) -> dict[str, tuple[float, float]]:
    """Return each node's (x, y): depth across, leaves in order down, groups centred on their children."""
    children: dict[str, list[str]] = defaultdict(list)
    for node in infra_map.nodes:
        if node.parent is not None:
            children[node.parent].append(node.node_id)
    leaves = sum(1 for node in infra_map.nodes if not children.get(node.node_id))
    # Wide enough that four levels fill a landscape box whatever the number of leaves.
    step_x = max(2.0, leaves * 0.45)
    rows: dict[str, float] = {}
    next_row = 0.0

    def place(node_id: str) -> float:
        nonlocal next_row
        own = children.get(node_id)
        if not own:
            rows[node_id] = next_row
            next_row += 1
        else:
            placed = [place(child) for child in own]
            rows[node_id] = (placed[0] + placed[-1]) / 2
        return rows[node_id]

    for node in infra_map.nodes:
        if node.parent is None:
            place(node.node_id)
            next_row += 0.5  # a gap between regions
    return {node.node_id: (node.depth * step_x, rows[node.node_id]) for node in infra_map.nodes}


def chart_height(infra_map: InfraMap) -> int:
    """Return a height in pixels that gives each row of leaves room for its label."""
    rows = sum(1 for node in infra_map.nodes if node.kind in {NodeKind.SUMMARY} or node.resource_id)
    return int(min(900, max(420, 120 + rows * 16)))


def _data_item(node: MapNode, position: tuple[float, float]) -> dict[str, Any]:
    symbol, size = _SYMBOLS.get(node.kind, _RESOURCE_SYMBOL)
    leaf = node.kind not in _SYMBOLS
    return {
        "id": node.node_id,
        "name": node.label,
        "value": node.summary,
        "x": position[0],
        "y": position[1],
        "category": _CATEGORIES.index(node.health),
        "symbol": symbol,
        "symbolSize": size,
        "label": {"show": True, "position": "right" if leaf else "top", "fontSize": 11 if leaf else 12},
    }


def echarts_option(infra_map: InfraMap) -> dict[str, Any]:
    """Return the ECharts option that draws the map (one graph series, a node per map node)."""
    positions = _positions(infra_map)
    return {
        "tooltip": {"trigger": "item", "formatter": "{c}"},
        "legend": [{"data": [HEALTH_LABELS[h] for h in _CATEGORIES], "top": 0, "left": "center"}],
        "animation": False,
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "selectedMode": "single",
                "top": 40,
                "left": 40,
                "right": 180,
                "bottom": 20,
                "categories": [
                    {"name": HEALTH_LABELS[h], "itemStyle": {"color": HEALTH_COLOURS[h]}} for h in _CATEGORIES
                ],
                "data": [_data_item(node, positions[node.node_id]) for node in infra_map.nodes],
                "links": [{"source": parent, "target": child} for parent, child in infra_map.edges],
                "lineStyle": {"color": "#b8b8b8", "width": 1, "curveness": 0},
                "labelLayout": {"hideOverlap": True},
                "emphasis": {"focus": "adjacency", "label": {"show": True}},
                "select": {"itemStyle": {"borderColor": "#f28c28", "borderWidth": 3}},
            }
        ],
    }


def clicked_node(infra_map: InfraMap, event: Mapping[str, Any] | None) -> MapNode | None:
    """Return the node a map selection event names (the first selected node), or None."""
    if not event:
        return None
    selection = event.get("selection") or {}
    groups: Sequence[Mapping[str, Any]] = selection.get("selected") or []
    for group in groups:
        if group.get("data_type") not in (None, "node", "main"):
            continue
        for index in group.get("data_indices") or []:
            if 0 <= int(index) < len(infra_map.nodes):
                return infra_map.nodes[int(index)]
    return None
