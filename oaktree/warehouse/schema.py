"""Every warehouse table, defined once: columns (with their documentation), key and file layout.

Columns are derived from the code's own types wherever one exists (`Resource` for `resources`,
`Event` for `events`), so a field added there is a column here; the metric tables follow the
points' shape and the catalogue's statistics. Writers build their Arrow tables from
`Table.arrow_schema()`, `oaktree.warehouse.lake` creates the DuckLake tables (and adds columns
that appeared since) from `Table.create_statements()`, and the README's data model lists the
same names.

Every table has a key: writers upsert on it, so a retried or re-run batch leaves one row per key.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import datetime, timedelta

import pyarrow as pa

from oaktree.catalogue import CATALOGUE
from oaktree.events import Event
from oaktree.inventory import Resource, ResourceType


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, DuckDB type and what it means."""

    name: str
    sql_type: str
    doc: str
    nullable: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """One DuckLake table and how it is written.

    `key`: the columns that identify a row; writers upsert on them. `time_column`: the column
    retention and range reads filter on (None for tables without one). Tables are not
    partitioned: each commit writes one window of time, so DuckLake's per-file min/max already
    skips the files a time range does not need, and a partitioned write cost twice as much.
    """

    name: str
    comment: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called `name`."""
        return next(column for column in self.columns if column.name == name)

    def arrow_schema(self) -> pa.Schema:
        """Return the Arrow schema writers build this table's batches with."""
        return pa.schema(
            [pa.field(c.name, _ARROW_TYPES[c.sql_type], nullable=c.nullable) for c in self.columns]
        )

    def create_statements(self) -> list[str]:
        """Return the SQL creating this table (if missing) with its documentation."""
        columns = ", ".join(
            f'"{c.name}" {c.sql_type}{"" if c.nullable else " NOT NULL"}' for c in self.columns
        )
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({columns})"]
        statements.append(f"COMMENT ON TABLE {self.name} IS {sql_string(self.comment)}")
        statements.extend(
            f'COMMENT ON COLUMN {self.name}."{c.name}" IS {sql_string(c.doc)}' for c in self.columns
        )
        return statements


def sql_string(value: str) -> str:
    """Return `value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


# The DuckDB types the warehouse uses and their Arrow twins (timestamps in UTC, milliseconds).
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("ms", tz="UTC"),
    "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string()),
    # JSON documents travel as text; DuckDB reads them with json_extract.
    "JSON": pa.string(),
}
_PYTHON_TYPES: dict[object, str] = {
    str: "VARCHAR",
    int: "BIGINT",
    float: "DOUBLE",
    bool: "BOOLEAN",
    datetime: "TIMESTAMPTZ",
    ResourceType: "VARCHAR",
    dict[str, str]: "MAP(VARCHAR, VARCHAR)",
    dict[str, typing.Any]: "JSON",
}


def columns_of(
    model: type,
    docs: dict[str, str],
    *,
    renamed: dict[str, str] | None = None,
    required: tuple[str, ...] = (),
) -> tuple[Column, ...]:
    """Return a dataclass's fields as columns, typed from its annotations.

    `renamed` maps a field to its column name; `required` names the fields stored NOT NULL.
    Every column needs a doc: a field without one fails here, at import, not in a notebook.
    """
    renamed = renamed or {}
    hints = typing.get_type_hints(model)
    columns = []
    for field in dataclasses.fields(model):
        name = renamed.get(field.name, field.name)
        annotation = hints[field.name]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        columns.append(Column(name, _PYTHON_TYPES[annotation], docs[name], nullable=name not in required))
    return tuple(columns)


STATISTICS = tuple(sorted({statistic for spec in CATALOGUE for statistic in spec.statistics}))

_RESOURCE_DOCS = {
    "resource_id": "Unique id: the instance id, or the ARN for ECS services, clusters and DynamoDB tables.",
    "arn": "The resource's ARN.",
    "resource_type": ", ".join(t.value for t in ResourceType) + ".",
    "region": "AWS region of the resource.",
    "name": "Name: the Name tag of an instance, else its id; the service, cluster or table name.",
    "state": "State as the service reports it: running/stopped (EC2), ACTIVE (ECS, DynamoDB), ...",
    "tags": "Resource tags as MAP(VARCHAR, VARCHAR): tags['team'].",
    "first_seen": "When discovery first saw the resource (UTC).",
    "last_seen": "When discovery last saw the resource (UTC).",
    "instance_type": "EC2 instance type, e.g. t3.large.",
    "vpc_id": "VPC of an EC2 instance.",
    "subnet_id": "Subnet of an EC2 instance.",
    "availability_zone": "Availability zone of an EC2 instance.",
    "private_ip": "Private IPv4 address of an EC2 instance.",
    "cluster": "ECS cluster name of a service.",
    "desired_count": "Desired task count of an ECS service.",
    "running_count": "Running task count of an ECS service.",
    "launch_type": "ECS launch type (FARGATE, EC2).",
    "capacity_mode": "DynamoDB billing mode: PROVISIONED or PAY_PER_REQUEST.",
    "item_count": "Approximate item count of a DynamoDB table.",
    "account_id": "AWS account that owns the resource (NULL in inventories saved before accounts were kept).",
    "read_capacity_units": "Provisioned read capacity units of a DynamoDB table (NULL on demand).",
    "write_capacity_units": "Provisioned write capacity units of a DynamoDB table (NULL on demand).",
}

_EVENT_DOCS = {
    "resource_id": "The resource the event is about.",
    "resource_type": "Its type (ec2_instance, ecs_service, dynamodb_table, ...).",
    "region": "Its AWS region.",
    "event_type": "resource_discovered, state_changed, capacity_changed, resource_gone, alarm transitions, "
    "resource actions.",
    "severity": "info, warning or critical.",
    "message": "One line a person can read.",
    "ts": "When it happened (UTC).",
    "details": "JSON document; read fields with json_extract(details, '$.field').",
    "event_key": "Unique key: epoch milliseconds and a random id (the DynamoDB sort key's id part).",
    "account_id": "AWS account of the resource (NULL for events written before accounts were kept).",
}

_SERIES_COLUMNS = (
    Column("resource_id", "VARCHAR", "Resource id: the instance id, or the ARN.", nullable=False),
    Column("resource_type", "VARCHAR", "ec2_instance, ecs_service or dynamodb_table.", nullable=False),
    Column("region", "VARCHAR", "AWS region of the resource.", nullable=False),
    Column(
        "metric_name",
        "VARCHAR",
        "CloudWatch metric name; DynamoDB per-operation metrics as Metric:Operation.",
        nullable=False,
    ),
    Column(
        "statistic",
        "VARCHAR",
        f"CloudWatch statistic of the 1-minute values: {', '.join(STATISTICS)}.",
        nullable=False,
    ),
    Column("unit", "VARCHAR", "CloudWatch unit, e.g. Percent, Bytes, Count, Milliseconds.", nullable=False),
)
SERIES_KEY = ("resource_id", "metric_name", "statistic")
# Added after the first lakes were created, so it comes last: a lake that predates it gets the
# column appended (`oaktree.warehouse.lake` adds missing columns) in the same position. Not part
# of the key: a resource id is unique across accounts.
ACCOUNT_COLUMN = Column(
    "account_id", "VARCHAR", "AWS account of the resource (NULL for points stored before accounts were kept)."
)


class Resolution(enum.StrEnum):
    """Resolutions the warehouse keeps: raw 1-minute points and three rollups."""

    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def width(self) -> timedelta:
        """Return the width of one point or bucket."""
        return _WIDTHS[self]

    @property
    def table(self) -> Table:
        """Return the table holding this resolution."""
        return METRIC_TABLES[self]

    @property
    def time_column(self) -> str:
        return "ts" if self is Resolution.MINUTE else "bucket"


_WIDTHS = {
    Resolution.MINUTE: timedelta(minutes=1),
    Resolution.FIVE_MINUTES: timedelta(minutes=5),
    Resolution.HOUR: timedelta(hours=1),
    Resolution.DAY: timedelta(days=1),
}
ROLLUP_RESOLUTIONS = (Resolution.FIVE_MINUTES, Resolution.HOUR, Resolution.DAY)

# Which bucket column is "the value" of a bucket, per statistic, as CloudWatch would aggregate it.
MEANINGFUL_COLUMN = {"Sum": "sum", "SampleCount": "sum", "Average": "avg", "Maximum": "max", "Minimum": "min"}
# p95 is meaningful only for gauge-like statistics (see oaktree.warehouse.rollups).
PERCENTILE_STATISTICS = frozenset({"Average", "Maximum", "Minimum"})

RESOURCES = Table(
    "resources",
    "Latest inventory from discovery: one row per resource, tagged or not.",
    columns_of(
        Resource,
        _RESOURCE_DOCS,
        required=("resource_id", "arn", "resource_type", "region", "name", "state"),
    ),
    key=("resource_id",),
)

EVENTS = Table(
    "events",
    "What happened to resources: discovery changes, alarm transitions, actions.",
    columns_of(
        Event,
        _EVENT_DOCS,
        renamed={"timestamp": "ts", "event_id": "event_key"},
        required=("resource_id", "resource_type", "region", "event_type", "severity", "message", "ts"),
    ),
    key=("resource_id", "event_key"),
    time_column="ts",
)

METRICS = Table(
    "metrics",
    "1-minute CloudWatch points, one row per (resource_id, metric_name, statistic, ts).",
    (
        *_SERIES_COLUMNS,
        Column("ts", "TIMESTAMPTZ", "Minute of the point (UTC).", nullable=False),
        Column("value", "DOUBLE", "The 1-minute value.", nullable=False),
        ACCOUNT_COLUMN,
    ),
    key=(*SERIES_KEY, "ts"),
    time_column="ts",
)

# The Arrow shape of collected points: collection builds its batches with it.
POINT_SCHEMA = METRICS.arrow_schema()

_BUCKET_COLUMNS = (
    *_SERIES_COLUMNS,
    Column("bucket", "TIMESTAMPTZ", "Start of the bucket (UTC).", nullable=False),
    Column("avg", "DOUBLE", "Mean of the bucket's 1-minute values (the bucket value for Average).", False),
    Column("min", "DOUBLE", "Smallest 1-minute value (the bucket value for Minimum).", False),
    Column("max", "DOUBLE", "Largest 1-minute value (the bucket value for Maximum).", False),
    Column("sum", "DOUBLE", "Sum of the 1-minute values (the bucket value for Sum and SampleCount).", False),
    Column("count", "BIGINT", "Number of 1-minute points in the bucket.", False),
    Column("p95", "DOUBLE", "95th percentile of the 1-minute values; NULL for Sum and SampleCount."),
    ACCOUNT_COLUMN,
)


def _rollup_table(resolution: Resolution) -> Table:
    return Table(
        f"metrics_{resolution.value}",
        f"{resolution.value} buckets of the 1-minute points, one row per (resource_id, metric_name, "
        "statistic, bucket).",
        _BUCKET_COLUMNS,
        key=(*SERIES_KEY, "bucket"),
        time_column="bucket",
    )


METRIC_TABLES: dict[Resolution, Table] = {
    Resolution.MINUTE: METRICS,
    Resolution.FIVE_MINUTES: _rollup_table(Resolution.FIVE_MINUTES),
    Resolution.HOUR: _rollup_table(Resolution.HOUR),
    Resolution.DAY: _rollup_table(Resolution.DAY),
}

ROLLUP_PROGRESS = Table(
    "rollup_progress",
    "Bookkeeping of the rollups: the last lake snapshot whose 1-minute changes are rolled up.",
    (
        Column("source_table", "VARCHAR", "The table whose changes are rolled up (metrics).", nullable=False),
        Column("snapshot_id", "BIGINT", "Last DuckLake snapshot rolled up.", nullable=False),
        Column("rolled_up_at", "TIMESTAMPTZ", "When that run committed (UTC).", nullable=False),
    ),
    key=("source_table",),
)

# Bookkeeping no reader needs lives in its own schema, out of `SHOW TABLES`: one version table
# per table, a single row bumped by every write that changes the table. DuckLake lets two
# commits that only insert into a table both succeed, so two writers upserting the same new keys
# at the same time would both insert them; since each also replaces its table's version row,
# the later commit conflicts and is redone on top of the other's rows (oaktree.warehouse.writes).
# One version table per table, not one shared table: writers of different tables never conflict.
INTERNAL_SCHEMA = "oaktree_internal"
VERSION_COLUMNS = (
    Column("version", "BIGINT", "How many writes changed the table.", nullable=False),
    Column("written_at", "TIMESTAMPTZ", "When the last of them committed (UTC).", nullable=False),
)


def version_table(table: Table) -> str:
    """Return the name of `table`'s version table, qualified by the internal schema."""
    return f"{INTERNAL_SCHEMA}.{table.name}_version"


_FINDING_SERIES_COLUMNS = (
    Column("resource_id", "VARCHAR", "Resource id: the instance id, or the ARN.", nullable=False),
    Column("resource_type", "VARCHAR", "ec2_instance, ecs_service or dynamodb_table.", nullable=False),
    Column("region", "VARCHAR", "AWS region of the resource.", nullable=False),
    Column("metric_name", "VARCHAR", "Metric name as stored in the metric tables.", nullable=False),
    Column("statistic", "VARCHAR", "Statistic of the series.", nullable=False),
)

ANOMALIES = Table(
    "anomalies",
    "5-minute points outside their series' seasonal band (oaktree.analytics.anomalies), one row per point.",
    (
        *_FINDING_SERIES_COLUMNS,
        Column("ts", "TIMESTAMPTZ", "Start of the 5-minute bucket (UTC).", nullable=False),
        Column("value", "DOUBLE", "The bucket's value.", nullable=False),
        Column("expected", "DOUBLE", "The seasonal baseline: hour-of-day median plus weekday effect.", False),
        Column("lower", "DOUBLE", "Lower edge of the band (expected - threshold x spread).", nullable=False),
        Column("upper", "DOUBLE", "Upper edge of the band (expected + threshold x spread).", nullable=False),
        Column("score", "DOUBLE", "Deviation from expected in spreads (1.4826 x MAD); signed.", False),
    ),
    key=("resource_id", "metric_name", "statistic", "ts"),
    time_column="ts",
)

RECOMMENDATIONS = Table(
    "recommendations",
    "Rightsizing and cost recommendations of the latest analytics run (replaced by each run).",
    (
        Column("resource_id", "VARCHAR", "Resource id: the instance id, or the ARN.", nullable=False),
        Column("resource_type", "VARCHAR", "ec2_instance, ecs_service or dynamodb_table.", nullable=False),
        Column("region", "VARCHAR", "AWS region of the resource.", nullable=False),
        Column("name", "VARCHAR", "Name of the resource.", nullable=False),
        Column(
            "kind",
            "VARCHAR",
            "ec2_idle, ec2_downsize, ecs_downsize, dynamodb_reduce_capacity or "
            "dynamodb_switch_to_provisioned.",
            nullable=False,
        ),
        Column("action", "VARCHAR", "What to do, in one sentence.", nullable=False),
        Column(
            "evidence",
            "JSON",
            "The figures behind it (p95, provisioned vs consumed, days of data...).",
            False,
        ),
        Column("monthly_cost", "DOUBLE", "Estimated monthly cost now, USD (prices.yaml).", nullable=False),
        Column("monthly_saving", "DOUBLE", "Estimated monthly saving if done, USD.", nullable=False),
        Column(
            "analysed_until", "TIMESTAMPTZ", "End of the history the recommendation rests on (UTC).", False
        ),
    ),
    key=("resource_id", "kind"),
)

FORECASTS = Table(
    "forecasts",
    "Hourly forecasts of capacity metrics with an interval, and days until a capacity threshold.",
    (
        *_FINDING_SERIES_COLUMNS,
        Column(
            "made_at", "TIMESTAMPTZ", "End of the history the forecast was fitted on (UTC).", nullable=False
        ),
        Column("ts", "TIMESTAMPTZ", "Hour forecast (UTC).", nullable=False),
        Column("forecast", "DOUBLE", "Forecast hourly value.", nullable=False),
        Column("lower", "DOUBLE", "Lower edge of the 95 % prediction interval.", nullable=False),
        Column("upper", "DOUBLE", "Upper edge of the 95 % prediction interval.", nullable=False),
        Column(
            "model", "VARCHAR", "The statsmodels model fitted, e.g. ETS(A,Ad,A) period 24.", nullable=False
        ),
        Column("threshold", "DOUBLE", "Capacity threshold of the metric (NULL: not a capacity metric)."),
        Column(
            "days_until_threshold",
            "DOUBLE",
            "Days until the daily peak trend reaches the threshold (NULL: not rising towards it).",
        ),
    ),
    key=("resource_id", "metric_name", "statistic", "made_at", "ts"),
    time_column="ts",
)

# Every table of the lake, in creation order. The alert engine and analytics add theirs here.
TABLES: tuple[Table, ...] = (
    RESOURCES,
    EVENTS,
    *METRIC_TABLES.values(),
    ROLLUP_PROGRESS,
    ANOMALIES,
    RECOMMENDATIONS,
    FORECASTS,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
