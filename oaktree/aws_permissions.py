"""The AWS permissions OakTree needs, defined once, each with the cheapest call that proves it.

`MONITORED_REGION_PERMISSIONS` is everything discovery and collection call in a monitored
region; `infra/iam.tf` (the collector's role) and `infra/modules/oaktree-read-role` (the role a
monitored account grants) declare exactly these actions, and tests/infra compares them.
`HOME_REGION_PERMISSIONS` are the calls OakTree makes in its own region outside its tables
(whose own probes live with the table check in `oaktree.check`).

A probe either succeeds, or fails with an error code that AWS returns only after authorising the
call (`DryRunOperation`, a missing probe cluster or table): both prove the permission without
reading or changing anything that matters. Access denied is reported as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from oaktree import aws
from oaktree.selfmonitoring import NAMESPACE

# Names nothing real carries: probes aimed at them are authorised, then find nothing.
PROBE_NAME = "oaktree-permission-probe"

# Error codes meaning "the caller may not do this" (service dialects of one answer).
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Where a probe runs: one region of one account (through the account's role, if it has one)."""

    region: str
    account_id: str
    role: aws.AssumedRole | None = None

    def client(self, service: str) -> Any:
        """Return a client of `service` in this region, acting in this account."""
        return aws.client(service, self.region, role=self.role)


@dataclasses.dataclass(frozen=True, slots=True)
class PermissionProbe:
    """One IAM action, who needs it, and a dry call proving it (codes in `authorised_errors` pass)."""

    action: str
    needed_by: str
    call: Callable[[ProbeTarget], Any]
    authorised_errors: frozenset[str] = frozenset()


class PermissionDenied(Exception):
    """AWS refused a probe: the caller lacks the permission (message: the AWS error)."""


def run_probe(probe: PermissionProbe, target: ProbeTarget) -> None:
    """Make the probe's call; return if the permission is granted, raise PermissionDenied if not.

    Other errors (throttling, an endpoint that is down) propagate: they say nothing about IAM.
    """
    try:
        probe.call(target)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in probe.authorised_errors:
            return
        if code in DENIED_CODES or status == 403:
            raise PermissionDenied(f"{code}: {error.get('Message', '')}".rstrip(": ")) from None
        raise


def _describe_instances(target: ProbeTarget) -> None:
    target.client("ec2").describe_instances(DryRun=True, MaxResults=5)


def _list_clusters(target: ProbeTarget) -> None:
    target.client("ecs").list_clusters(maxResults=1)


def _describe_clusters(target: ProbeTarget) -> None:
    target.client("ecs").describe_clusters(clusters=[PROBE_NAME])


def _list_services(target: ProbeTarget) -> None:
    target.client("ecs").list_services(cluster=PROBE_NAME, maxResults=1)


def _describe_services(target: ProbeTarget) -> None:
    target.client("ecs").describe_services(cluster=PROBE_NAME, services=[PROBE_NAME])


def _list_tables(target: ProbeTarget) -> None:
    target.client("dynamodb").list_tables(Limit=1)


def _describe_table(target: ProbeTarget) -> None:
    target.client("dynamodb").describe_table(TableName=PROBE_NAME)


def _list_tags_of_resource(target: ProbeTarget) -> None:
    arn = f"arn:aws:dynamodb:{target.region}:{target.account_id}:table/{PROBE_NAME}"
    target.client("dynamodb").list_tags_of_resource(ResourceArn=arn)


def _get_metric_data(target: ProbeTarget) -> None:
    # One series, five minutes: the smallest request the API accepts is also its cheapest.
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    target.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "probe",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"},
                    "Period": 60,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=end - timedelta(minutes=5),
        EndTime=end,
    )


def _put_metric_data(target: ProbeTarget) -> None:
    # PutMetricData has no dry run; one point of OakTree's own CheckRuns metric is the cheapest
    # proof, and it also records in CloudWatch when a deployment was verified.
    target.client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE, MetricData=[{"MetricName": "CheckRuns", "Value": 1.0, "Unit": "Count"}]
    )


_ECS_MISSING = frozenset({"ClusterNotFoundException"})
_DYNAMODB_MISSING = frozenset({"ResourceNotFoundException"})

MONITORED_REGION_PERMISSIONS: tuple[PermissionProbe, ...] = (
    PermissionProbe(
        "ec2:DescribeInstances", "discovery", _describe_instances, frozenset({"DryRunOperation"})
    ),
    PermissionProbe("ecs:ListClusters", "discovery", _list_clusters),
    PermissionProbe("ecs:DescribeClusters", "discovery", _describe_clusters),
    PermissionProbe("ecs:ListServices", "discovery", _list_services, _ECS_MISSING),
    PermissionProbe("ecs:DescribeServices", "discovery", _describe_services, _ECS_MISSING),
    PermissionProbe("dynamodb:ListTables", "discovery", _list_tables),
    PermissionProbe("dynamodb:DescribeTable", "discovery", _describe_table, _DYNAMODB_MISSING),
    PermissionProbe("dynamodb:ListTagsOfResource", "discovery", _list_tags_of_resource, _DYNAMODB_MISSING),
    PermissionProbe("cloudwatch:GetMetricData", "collection", _get_metric_data),
)

HOME_REGION_PERMISSIONS: tuple[PermissionProbe, ...] = (
    PermissionProbe("cloudwatch:PutMetricData", "self-monitoring", _put_metric_data),
)


def monitored_region_actions() -> list[str]:
    """Return the IAM actions a monitored account must grant OakTree, sorted."""
    return sorted(probe.action for probe in MONITORED_REGION_PERMISSIONS)
