"""Alerts as code: a YAML file of channels and rules, applied idempotently.

```yaml
channels:
  - {name: ops-mail, type: email, to: [ops@example.com]}
rules:
  - name: high-cpu
    resource_type: ec2_instance
    selector: {region: us-east-1, tags: {env: prod}}
    metric_name: CPUUtilization
    statistic: Average
    period: 300
    evaluation_periods: 2
    datapoints_to_alarm: 2
    threshold: 80
    comparison_operator: GreaterThanThreshold
    channels: [ops-mail]
```

The whole file is validated before anything is written (every problem reported, keyed like
`rules[0] high-cpu: threshold`), then applied in one transaction: channels first, then rules,
each reported as created, updated or unchanged. With `prune`, rules missing from the file are
deleted (their open alerts resolved); channels are never pruned, a rule elsewhere may use them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Alert
from models.base import utcnow
from oaktree.alerts.channels import ChannelSpec, InvalidChannel, parse_channel
from oaktree.alerts.rules import InvalidRule, Rule, parse_rule
from oaktree.alerts.service import insert_rule, remove_rule, replace_rule, store_channel
from oaktree.alerts.store import channel_names_by_rule, load_channels, lock_alerts, rule_from_row
from oaktree.auth.roles import Permission, Principal, require


class InvalidRulesFile(ValueError):
    """The file cannot be applied; `errors` maps each problem's place in the file to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{place}: {message}" for place, message in self.errors.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class RulesFile:
    """A parsed rules file."""

    channels: tuple[ChannelSpec, ...]
    rules: tuple[Rule, ...]


def _entries(document: Mapping[str, Any], key: str, errors: dict[str, str]) -> list[Any]:
    entries = document.get(key) or []
    if not isinstance(entries, list):
        errors[key] = "must be a list"
        return []
    return entries


def _place(place: str, entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    return f"{place} {name}" if isinstance(name, str) and name else place


def parse_rules_document(document: Any) -> RulesFile:
    """Return a loaded YAML document's channels and rules, or raise InvalidRulesFile listing every problem."""
    errors: dict[str, str] = {}
    if not isinstance(document, Mapping):
        raise InvalidRulesFile({"file": "must be a mapping with `channels` and `rules` lists"})
    for key in sorted(set(map(str, document)) - {"channels", "rules"}):
        errors[key] = "unknown top-level key (use channels and rules)"
    channels: list[ChannelSpec] = []
    for index, entry in enumerate(_entries(document, "channels", errors)):
        place = f"channels[{index}]"
        if not isinstance(entry, Mapping):
            errors[place] = "must be a mapping"
            continue
        try:
            channels.append(parse_channel(entry))
        except InvalidChannel as exc:
            errors.update(
                {
                    f"{place} {entry.get('name', '')}: {field}".replace("  ", " "): m
                    for field, m in exc.errors.items()
                }
            )
    rules: list[Rule] = []
    for index, entry in enumerate(_entries(document, "rules", errors)):
        place = f"rules[{index}]"
        if not isinstance(entry, Mapping):
            errors[place] = "must be a mapping"
            continue
        try:
            rules.append(parse_rule(entry))
        except InvalidRule as exc:
            errors.update(
                {
                    f"{place} {entry.get('name', '')}: {field}".replace("  ", " "): m
                    for field, m in exc.errors.items()
                }
            )
    for kind, names in (("channels", [c.name for c in channels]), ("rules", [r.name for r in rules])):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            errors[kind] = f"names used twice: {', '.join(duplicates)}"
    if errors:
        raise InvalidRulesFile(errors)
    return RulesFile(channels=tuple(channels), rules=tuple(rules))


def load_rules_file(path: Path) -> RulesFile:
    """Read and validate a rules file."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidRulesFile({"file": f"not valid YAML ({' '.join(str(exc).split())})"}) from None
    return parse_rules_document(document)


def apply_rules(
    *,
    session: Session,
    principal: Principal,
    rules_file: RulesFile,
    prune: bool = False,
    now: datetime | None = None,
) -> dict[str, dict[str, list[str]]]:
    """Create or update the file's channels and rules (with `prune`, delete other rules) in one transaction.

    Returns, for channels and rules, the names created, updated, unchanged (and deleted).
    """
    require(principal, Permission.MANAGE_ALERTS)
    now = now or utcnow()
    summary: dict[str, dict[str, list[str]]] = {
        "channels": {"created": [], "updated": [], "unchanged": []},
        "rules": {"created": [], "updated": [], "unchanged": [], "deleted": []},
    }
    try:
        lock_alerts(session)
        known = set(load_channels(session)) | {channel.name for channel in rules_file.channels}
        missing = {
            f"rules {rule.name}: channels": "unknown channel(s): "
            + ", ".join(sorted(set(rule.channels) - known))
            for rule in rules_file.rules
            if set(rule.channels) - known
        }
        if missing:
            raise InvalidRulesFile(missing)
        for channel in rules_file.channels:
            outcome = store_channel(session, principal=principal, spec=channel, now=now)
            summary["channels"][outcome].append(channel.name)
        rows = {row.name: row for row in session.scalars(select(Alert)) if row.name}
        links = channel_names_by_rule(session)
        for rule in rules_file.rules:
            row = rows.get(rule.name)
            if row is None:
                insert_rule(session, principal=principal, rule=rule, now=now)
                summary["rules"]["created"].append(rule.name)
            elif rule_from_row(row, links.get(row.id, [])) == dataclasses.replace(rule, id=row.id):
                summary["rules"]["unchanged"].append(rule.name)
            else:
                replace_rule(session, principal=principal, row=row, new=rule, now=now)
                summary["rules"]["updated"].append(rule.name)
        if prune:
            wanted = {rule.name for rule in rules_file.rules}
            for name, row in sorted(rows.items()):
                if name not in wanted:
                    remove_rule(session, principal=principal, row=row, now=now)
                    summary["rules"]["deleted"].append(name)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return summary
