"""Many accounts: OAKTREE_ACCOUNTS, roles assumed with an external id, and discovery, collection and
the stores carrying account_id, on moto with two accounts (moto keeps each account's state apart
when the assumed credentials belong to another account)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oaktree import aws as aws_clients
from oaktree.accounts import AccountRegion, account_regions, resolve_account_id
from oaktree.collection.pipeline import collect_once
from oaktree.collection.ratelimit import reset_limiters
from oaktree.config import ConfigError, Settings, load_settings
from oaktree.discovery.pipeline import ACCOUNT_UNAVAILABLE, discover_all
from oaktree.storage.tables import WATERMARK_PREFIX, ensure_tables
from oaktree.warehouse import connect, read

OWN = "123456789012"  # moto's account for the test credentials
OTHER = "222222222222"
DENIED = "333333333333"
REGION = "us-east-1"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/OakTreeRead"
DENIED_ROLE = f"arn:aws:iam::{DENIED}:role/OakTreeRead"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def accounts_json(*extra: dict[str, Any]) -> str:
    return json.dumps(
        [
            {"id": OWN, "regions": [REGION]},
            {"id": OTHER, "role_arn": OTHER_ROLE, "external_id": "oaktree-ext-1", "regions": [REGION]},
            *extra,
        ]
    )


# ---- configuration ---------------------------------------------------------------------------


def test_accounts_default_to_the_credentials_own_account(settings: Settings) -> None:
    assert settings.accounts == ()
    assert [(s.account_id, s.region, s.role) for s in account_regions(settings)] == [
        (None, region, None) for region in settings.regions
    ]


def test_accounts_are_read_from_json_or_a_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OAKTREE_ACCOUNTS", accounts_json())
    from_json = load_settings()
    path = tmp_path / "accounts.yaml"
    path.write_text(
        f"accounts:\n  - id: {OWN}\n    regions: [{REGION}]\n"
        f"  - id: '{OTHER}'\n    role_arn: {OTHER_ROLE}\n    external_id: oaktree-ext-1\n"
        f"    regions: [{REGION}]\n"
    )
    monkeypatch.setenv("OAKTREE_ACCOUNTS", str(path))
    from_yaml = load_settings()

    for settings in (from_json, from_yaml):
        scopes = account_regions(settings)
        assert [(s.account_id, s.region) for s in scopes] == [(OWN, REGION), (OTHER, REGION)]
        assert scopes[0].role is None
        assert scopes[1].role == aws_clients.AssumedRole(OTHER_ROLE, "oaktree-ext-1")
    # The external id is a shared secret: it never shows in a repr or a log line.
    assert "oaktree-ext-1" not in repr(from_json.accounts) + repr(account_regions(from_json))


def test_an_account_without_regions_is_watched_in_oaktree_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_REGIONS", "eu-west-1,us-west-2")
    monkeypatch.setenv("OAKTREE_ACCOUNTS", json.dumps({"accounts": [{"id": OTHER, "role_arn": OTHER_ROLE}]}))
    assert [s.label for s in account_regions(load_settings())] == [f"{OTHER}/eu-west-1", f"{OTHER}/us-west-2"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"id": "12345"}]', "an account id is 12 digits"),
        (
            json.dumps([{"id": OTHER, "role_arn": f"arn:aws:iam::{DENIED}:role/R"}]),
            f"role_arn belongs to account {DENIED}, not {OTHER}",
        ),
        (json.dumps([{"id": OTHER, "role_arn": "role/R"}]), "not an IAM role ARN"),
        (json.dumps([{"id": OTHER, "regions": ["mars-1"]}]), "unknown AWS region(s): mars-1"),
        (json.dumps([{"id": OTHER}, {"id": OTHER}]), f"account(s) listed twice: {OTHER}"),
        (json.dumps([{"id": OTHER, "external_id": "x1"}]), "external_id needs a role_arn"),
        (json.dumps([{"id": OTHER, "rolearn": OTHER_ROLE}]), "rolearn"),
        ('[{"id": ', "not valid JSON"),
        ("/nonexistent/accounts.yaml", "cannot read /nonexistent/accounts.yaml"),
        ('{"id": "x"}', "must be a list of accounts"),
    ],
)
def test_a_bad_accounts_setting_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("OAKTREE_ACCOUNTS", value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "OAKTREE_ACCOUNTS" in str(raised.value)
    assert message in str(raised.value)


def test_an_unconfigured_account_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_ACCOUNTS", accounts_json())
    with pytest.raises(ConfigError, match=f"account {DENIED} is not in OAKTREE_ACCOUNTS"):
        account_regions(load_settings(), account_ids=[DENIED])


# ---- two accounts on moto --------------------------------------------------------------------


def deny_assume_role(role_arn: str) -> Any:
    """A before-call hook: STS refuses AssumeRole of `role_arn` (moto's STS accepts any role)."""

    def hook(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        # `params` is the serialised request here: STS's query protocol keeps the fields in the body.
        if params["body"].get("RoleArn") != role_arn:
            return None
        http = type("DeniedHttpResponse", (), {"status_code": 403, "headers": {}})()
        return http, {
            "Error": {
                "Code": "AccessDenied",
                "Message": f"not authorized to perform sts:AssumeRole on {role_arn}",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    return hook


def make_instances(scope: AccountRegion, count: int, name: str) -> list[str]:
    ec2 = scope.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instances = ec2.run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )["Instances"]
    scope.client("dynamodb").create_table(
        TableName="orders",  # the same name in both accounts: the ARNs tell them apart
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return [instance["InstanceId"] for instance in instances]


def put_cpu(scope: AccountRegion, instance_ids: list[str], value: float) -> None:
    """Put 10 minutes of CPUUtilization for each instance into its own account's CloudWatch."""
    cloudwatch = scope.client("cloudwatch")
    for instance_id in instance_ids:
        cloudwatch.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                    "Timestamp": NOW - timedelta(minutes=minute),
                    "Value": value,
                    "Unit": "Percent",
                }
                for minute in range(1, 11)
            ],
        )


@pytest.fixture
def two_accounts(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The own account and another one reached through a role, each with instances and a table."""
    monkeypatch.setenv("OAKTREE_REGIONS", REGION)
    monkeypatch.setenv("OAKTREE_BACKFILL_LOOKBACK_MINUTES", "30")
    monkeypatch.setenv("OAKTREE_ACCOUNTS", accounts_json())
    settings = load_settings()
    ensure_tables(metrics_table=settings.metrics_table, events_table=settings.events_table, region=REGION)
    own, other = account_regions(settings)
    assumed: list[dict[str, Any]] = []
    aws_clients.add_event_handler(
        "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(dict(params))
    )
    ids = {OWN: make_instances(own, 2, "own"), OTHER: make_instances(other, 3, "other")}
    put_cpu(own, ids[OWN], 10.0)
    put_cpu(other, ids[OTHER], 70.0)
    reset_limiters()
    return {"settings": settings, "ids": ids, "assumed": assumed, "scopes": (own, other)}


def test_a_role_is_assumed_with_the_external_id_and_reads_its_own_account(
    two_accounts: dict[str, Any],
) -> None:
    own, other = two_accounts["scopes"]
    assert resolve_account_id(own) == OWN
    assert resolve_account_id(other) == OTHER
    assert two_accounts["assumed"][0]["RoleArn"] == OTHER_ROLE
    assert two_accounts["assumed"][0]["ExternalId"] == "oaktree-ext-1"
    # moto keeps the accounts apart: each sees only its own instances.
    seen = {
        scope.account_id: sorted(
            i["InstanceId"]
            for r in scope.client("ec2").describe_instances()["Reservations"]
            for i in r["Instances"]
        )
        for scope in (own, other)
    }
    assert seen == {account: sorted(ids) for account, ids in two_accounts["ids"].items()}


def test_discovery_and_collection_carry_the_account_everywhere(two_accounts: dict[str, Any]) -> None:
    settings: Settings = two_accounts["settings"]
    ids: dict[str, list[str]] = two_accounts["ids"]

    discovery = discover_all(settings)
    collection = collect_once(settings=settings, now=NOW)

    assert discovery.failures == []
    by_account = discovery.to_dict()["resources_by_account"]
    # Instances and "orders" in each; the own account also holds OakTree's two tables.
    assert by_account == {OWN: 5, OTHER: 4}
    tables = {r.account_id: r.resource_id for r in discovery.resources if r.name == "orders"}
    assert tables == {
        OWN: f"arn:aws:dynamodb:{REGION}:{OWN}:table/orders",
        OTHER: f"arn:aws:dynamodb:{REGION}:{OTHER}:table/orders",
    }
    assert {e.account_id for e in discovery.events} == {OWN, OTHER}

    summary = collection.to_dict()
    assert summary["failed_regions"] == []
    assert set(summary["regions"]) == {f"{OWN}/{REGION}", f"{OTHER}/{REGION}"}
    assert summary["regions"][f"{OTHER}/{REGION}"]["account_id"] == OTHER

    with connect(settings=settings) as connection:
        cpu = connection.execute(
            "SELECT account_id, resource_id, count(*), avg(value) FROM metrics "
            "WHERE metric_name = 'CPUUtilization' AND statistic = 'Average' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        inventory = read.inventory(connection, account_ids=[OTHER])
        latest = read.latest_values(
            connection, metric_name="CPUUtilization", statistic="Average", account_ids=[OWN]
        )
        events = read.events(connection, account_ids=[OTHER])
    # Each account's CloudWatch answered with its own values, stored under its own account.
    assert cpu == sorted([(OWN, i, 10, 10.0) for i in ids[OWN]] + [(OTHER, i, 10, 70.0) for i in ids[OTHER]])
    assert set(inventory["account_id"]) == {OTHER}
    assert len(inventory) == 4
    assert sorted(latest["resource_id"]) == sorted(ids[OWN])
    assert set(latest["account_id"]) == {OWN}
    assert set(events["account_id"]) == {OTHER}

    items = aws_clients.client("dynamodb", REGION).scan(TableName=settings.metrics_table)["Items"]
    points = [i for i in items if not i["metric_key"]["S"].startswith(WATERMARK_PREFIX)]
    watermarks = [i for i in items if i["metric_key"]["S"].startswith(WATERMARK_PREFIX)]
    account_of = {i: account for account, instance_ids in ids.items() for i in instance_ids}
    cpu_points = [
        p for p in points if p["metric_name"]["S"] == "CPUUtilization" and p["statistic"]["S"] == "Average"
    ]
    assert len(cpu_points) == 50
    assert all(p["account_id"]["S"] == account_of[p["resource_id"]["S"]] for p in cpu_points)
    assert {w["account_id"]["S"] for w in watermarks} == {OWN, OTHER}


def test_an_account_whose_role_cannot_be_assumed_is_reported_and_the_others_complete(
    two_accounts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: Settings = two_accounts["settings"]
    first = discover_all(settings)
    assert first.failures == []
    # The other account revokes OakTree's trust, and a third account never granted it.
    monkeypatch.setenv(
        "OAKTREE_ACCOUNTS", accounts_json({"id": DENIED, "role_arn": DENIED_ROLE, "regions": [REGION]})
    )
    settings = load_settings()
    aws_clients.add_event_handler("before-call.sts.AssumeRole", deny_assume_role(OTHER_ROLE))
    aws_clients.add_event_handler("before-call.sts.AssumeRole", deny_assume_role(DENIED_ROLE))
    aws_clients.reset_role_sessions()  # the role's credentials were cached by the first run

    second = discover_all(settings, now=datetime.now(UTC) + timedelta(minutes=10))
    collection = collect_once(settings=settings, now=NOW)

    unavailable = second.to_dict()["unavailable_accounts"]
    assert [(a["account_id"], a["error_code"]) for a in unavailable] == [
        (OTHER, "AccessDenied"),
        (DENIED, "AccessDenied"),
    ]
    assert "sts:AssumeRole" in unavailable[0]["message"]
    # The unreachable account's resources are kept as last seen, not reported gone.
    assert second.to_dict()["resources_by_account"] == {OWN: 5, OTHER: 4}
    assert [e.event_type for e in second.events if e.account_id == OTHER] == [ACCOUNT_UNAVAILABLE]
    assert [e.resource_id for e in second.events if e.event_type == ACCOUNT_UNAVAILABLE] == [
        f"arn:aws:iam::{OTHER}:root",
        f"arn:aws:iam::{DENIED}:root",
    ]
    # Collection: the own account completes; the other's region fails with the reason.
    summary = collection.to_dict()
    assert summary["regions"][f"{OWN}/{REGION}"]["error"] is None
    assert summary["regions"][f"{OWN}/{REGION}"]["datapoints_stored"]["warehouse"] > 0
    assert [(f["account_id"], f["region"]) for f in summary["failed_regions"]] == [(OTHER, REGION)]
    assert "AccessDenied" in summary["failed_regions"][0]["reason"]
    with connect(settings=settings) as connection:
        stored = read.events(connection, event_types=[ACCOUNT_UNAVAILABLE])
    assert sorted(stored["account_id"]) == [OTHER, DENIED]


# ---- a lake created before accounts ----------------------------------------------------------


def test_a_lake_from_before_accounts_gains_the_column_and_rewrites_fill_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import pyarrow as pa

    from oaktree.warehouse import lake, schema
    from oaktree.warehouse.lake import open_for_writing
    from oaktree.warehouse.points import write_points

    def without_account(table: schema.Table) -> schema.Table:
        return dataclasses.replace(table, columns=tuple(c for c in table.columns if c.name != "account_id"))

    old_tables = tuple(without_account(table) for table in schema.TABLES)
    monkeypatch.setattr(lake, "TABLES", old_tables)
    monkeypatch.setattr(lake, "_ensured", set())
    connection = open_for_writing(settings)
    connection.execute(
        "INSERT INTO lake.metrics VALUES ('i-1', 'ec2_instance', 'us-east-1', 'CPUUtilization', 'Average', "
        "'Percent', TIMESTAMPTZ '2026-12-01 10:00:00+00', 5.0)"
    )
    connection.close()
    monkeypatch.setattr(lake, "TABLES", schema.TABLES)
    monkeypatch.setattr(lake, "_ensured", set())

    def point(minute: int, value: float) -> dict[str, Any]:
        return {
            "resource_id": "i-1",
            "resource_type": "ec2_instance",
            "region": "us-east-1",
            "metric_name": "CPUUtilization",
            "statistic": "Average",
            "unit": "Percent",
            "ts": datetime(2026, 12, 1, 10, minute, tzinfo=UTC),
            "value": value,
            "account_id": OWN,
        }

    # The settling overlap rewrites the old minute and adds the next one.
    write_points(settings, pa.Table.from_pylist([point(0, 5.0), point(1, 6.0)], schema=schema.POINT_SCHEMA))

    with connect(settings=settings) as reader:
        rows = reader.execute("SELECT ts, value, account_id FROM metrics ORDER BY ts").fetchall()
        columns = [
            name
            for (name,) in reader.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'lake' "
                "AND table_name = 'metrics' ORDER BY column_index"
            ).fetchall()
        ]
    assert [(ts.minute, value, account) for ts, value, account in rows] == [(0, 5.0, OWN), (1, 6.0, OWN)]
    assert columns == schema.METRICS.column_names
    assert columns[-1] == "account_id"
