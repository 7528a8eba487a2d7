"""One collection run: plan from watermarks, read CloudWatch in full batches, store, move watermarks.

Order of writes per batch, which is what makes restarts and retries safe:
1. the points go to DynamoDB (idempotent: one key per point),
2. then to the warehouse (an idempotent upsert),
3. only then the series' watermarks move to the end of the window.
A crash anywhere before 3 leaves the watermark where it was: the next run reads the same window
again and overwrites the same keys. Nothing is lost and nothing is stored twice.

Batches are fetched by a pool of `collection_threads` threads, as many at once as waiting on
AWS makes worthwhile (`concurrency.InFlightLimit`). Steps 2 and 3 run in one background "store"
thread, a chunk of batches at a time, while the fetch threads go on: DuckDB releases the GIL
while it writes, so the warehouse write uses the second core instead of stopping the pipeline.
Each series is in exactly one batch per run, so chunks never compete for a watermark; once a
chunk fails, the chunks after it are not stored (their watermarks stay), and the run reports
the failure.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.accounts import AccountRegion, account_regions
from oaktree.collection.api_calls import ApiCounters, CountedDynamoDB, RetryingCaller, single_attempt_client
from oaktree.collection.cloudwatch import BatchResult, fetch_batch, points_table
from oaktree.collection.concurrency import InFlightLimit
from oaktree.collection.planning import MetricBatch, Series, epoch_ms, pack_batches, plan_windows, series_of
from oaktree.collection.ratelimit import limiter_for
from oaktree.config import Settings
from oaktree.inventory import Resource
from oaktree.logs import get_logger
from oaktree.storage import metrics_store
from oaktree.storage.batch_writer import UnwrittenItemsError, WriteStats, write_items

log = get_logger(__name__)

WarehouseWriter = Callable[[pa.Table], int]

# Points held before a chunk goes to the store thread (warehouse, then watermarks): small enough
# that the write overlaps the rest of the run and memory stays flat, large enough that a run
# makes few commits (each is at least one Parquet file).
WAREHOUSE_FLUSH_ROWS = 200_000

# The isolation boundary of one batch (and of one region in `collect_once`): AWS errors after
# retries, an endpoint that is down, DynamoDB items still unprocessed after the writer's retries.
COLLECTION_ERRORS = (ClientError, BotoCoreError, UnwrittenItemsError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


@dataclasses.dataclass
class RegionReport:
    """What one region's (of one account) collection did."""

    region: str
    # None: the credentials' own account, in a deployment that configures no accounts.
    account_id: str | None = None
    series: int = 0
    batches: int = 0
    datapoints_dynamodb: int = 0
    datapoints_warehouse: int = 0
    partial_results: int = 0
    incomplete_series: int = 0
    newest_point_ms: int | None = None
    failed_batches: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    counters: ApiCounters = dataclasses.field(default_factory=ApiCounters)
    writes: WriteStats = dataclasses.field(default_factory=WriteStats)

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.failed_batches)

    @property
    def label(self) -> str:
        """Return `<account>/<region>`, or the region alone for the credentials' own account."""
        return AccountRegion(self.account_id, self.region).label

    @property
    def failure_reason(self) -> str | None:
        if self.error:
            return self.error
        if self.failed_batches:
            return f"{len(self.failed_batches)} of {self.batches} batch(es) failed: {self.failed_batches[0]}"
        return None

    def to_dict(self, now_ms: int) -> dict[str, Any]:
        """Return the region's counts as JSON-ready values."""
        counts = self.counters.to_dict()
        return {
            "account_id": self.account_id,
            "region": self.region,
            "series": self.series,
            "batches": self.batches,
            "datapoints_stored": {
                "dynamodb": self.datapoints_dynamodb,
                "warehouse": self.datapoints_warehouse,
            },
            "api_calls": counts["calls"],
            "throttles": counts["throttles"],
            "server_errors": counts["server_errors"],
            "partial_results": self.partial_results,
            "incomplete_series": self.incomplete_series,
            "duplicates_dropped": self.writes.duplicates_dropped,
            "unprocessed_retries": self.writes.unprocessed_retries,
            "lag_seconds": None if self.newest_point_ms is None else (now_ms - self.newest_point_ms) / 1000,
            "error": self.failure_reason,
        }


class RegionCollectionFailed(RuntimeError):
    """Some of a region's batches failed; the rest were stored. Carries the region's report."""

    def __init__(self, report: RegionReport) -> None:
        super().__init__(f"collection in {report.label} failed: {report.failure_reason}")
        self.report = report


@dataclasses.dataclass
class CollectionReport:
    """The outcome of a collection run across regions."""

    collected_at: datetime
    regions: list[RegionReport]

    def _sum(self, name: str) -> int:
        return sum(getattr(report, name) for report in self.regions)

    def _merged_counters(self) -> dict[str, dict[str, int]]:
        merged = ApiCounters()
        for report in self.regions:
            merged.add(report.counters)
        return merged.to_dict()

    @property
    def lag_seconds(self) -> float | None:
        """Return now minus the newest point stored by this run (None if nothing was stored)."""
        newest = [r.newest_point_ms for r in self.regions if r.newest_point_ms is not None]
        return (epoch_ms(self.collected_at) - max(newest)) / 1000 if newest else None

    @property
    def failed_regions(self) -> list[dict[str, str]]:
        """Return each failed region (and its account) with the reason, in the order regions were given."""
        return [
            {"region": r.region, "account_id": r.account_id, "reason": r.failure_reason or ""}
            for r in self.regions
            if r.failed
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary: totals, API calls per operation, failures, per-region detail."""
        counts = self._merged_counters()
        now_ms = epoch_ms(self.collected_at)
        return {
            "collected_at": self.collected_at,
            "series": self._sum("series"),
            "batches": self._sum("batches"),
            "datapoints_stored": {
                "dynamodb": self._sum("datapoints_dynamodb"),
                "warehouse": self._sum("datapoints_warehouse"),
            },
            "api_calls": counts["calls"],
            "throttles": counts["throttles"],
            "server_errors": counts["server_errors"],
            "partial_results": self._sum("partial_results"),
            "incomplete_series": self._sum("incomplete_series"),
            "lag_seconds": self.lag_seconds,
            "failed_regions": self.failed_regions,
            # Keyed by region; by `<account>/<region>` once accounts are configured.
            "regions": {report.label: report.to_dict(now_ms) for report in self.regions},
        }

    def to_markdown(self) -> str:
        """Return the run as a markdown table, one row per region and a total (the flow's artifact)."""
        summary = self.to_dict()
        header = (
            "| region | series | datapoints (DynamoDB / warehouse) | API calls | throttles "
            "| partial results | lag (s) | status |\n|---|---|---|---|---|---|---|---|"
        )

        def calls(counts: dict[str, int]) -> str:
            return ", ".join(f"{op} {n}" for op, n in counts.items()) or "-"

        def row(name: str, counts: dict[str, Any], status: str) -> str:
            stored = counts["datapoints_stored"]
            lag = "-" if counts["lag_seconds"] is None else f"{counts['lag_seconds']:.0f}"
            return (
                f"| {name} | {counts['series']} | {stored['dynamodb']} / {stored['warehouse']} "
                f"| {calls(counts['api_calls'])} | {calls(counts['throttles'])} "
                f"| {counts['partial_results']} | {lag} | {status} |"
            )

        rows = [row(region, r, r["error"] or "ok") for region, r in summary["regions"].items()]
        rows.append(row("**total**", summary, f"{len(summary['failed_regions'])} region(s) failed"))
        return "\n".join([header, *rows])


def _batch_items(result: BatchResult, ttl_days: int) -> Iterable[dict[str, Any]]:
    return itertools.chain.from_iterable(
        metrics_store.point_items(
            resource_id=one.series.resource.resource_id,
            account_id=one.series.resource.account_id,
            region=one.series.resource.region,
            metric_name=one.series.spec.series_name,
            statistic=one.series.statistic,
            unit=one.series.spec.unit,
            dimensions=one.series.dimensions,
            timestamps_ms=one.timestamps_ms,
            values=one.values,
            ttl_days=ttl_days,
        )
        for one in result.points
    )


def _batch_label(batch: MetricBatch) -> str:
    return f"{len(batch.series)} series {batch.window.start:%H:%M}-{batch.window.end:%H:%M}"


def collect_region(
    region: str,
    resources: Sequence[Resource],
    *,
    settings: Settings,
    now: datetime | None = None,
    cloudwatch: Any | None = None,
    dynamodb: Any | None = None,
    write_warehouse: WarehouseWriter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    scope: AccountRegion | None = None,
) -> RegionReport:
    """Collect every series of one region's resources up to `now`; return what was done.

    `scope` names the account (and the role that reads it); without it, the credentials' own
    account, and every resource of the region (a deployment that configures no accounts has one).

    Batches are read in parallel threads sharing the region's rate limiter; a batch that fails
    after retries is recorded and the others are stored. If any failed, `RegionCollectionFailed`
    is raised at the end (after the successful ones were stored and their watermarks moved), so
    a retry only re-reads what is missing. `cloudwatch`, `dynamodb` and `write_warehouse` default
    to the real ones; tests and the benchmark pass their own.
    """
    scope = scope or AccountRegion(None, region)
    if write_warehouse is not None:
        return _collect_region(scope, resources, settings, now, cloudwatch, dynamodb, write_warehouse, sleep)
    from oaktree.warehouse.points import PointWriter  # imported here: DuckDB only when writing

    with PointWriter(settings) as writer:
        return _collect_region(scope, resources, settings, now, cloudwatch, dynamodb, writer, sleep)


def resources_of(scope: AccountRegion, resources: Iterable[Resource]) -> list[Resource]:
    """Return the resources of one account's region (every account's, for the credentials' own)."""
    return [
        r
        for r in resources
        if r.region == scope.region and (scope.account_id is None or r.account_id == scope.account_id)
    ]


def _collect_region(
    scope: AccountRegion,
    resources: Sequence[Resource],
    settings: Settings,
    now: datetime | None,
    cloudwatch: Any | None,
    dynamodb: Any | None,
    write_warehouse: WarehouseWriter,
    sleep: Callable[[float], None],
) -> RegionReport:
    region = scope.region
    now_ms = epoch_ms(now or datetime.now(UTC))
    table = settings.metrics_table
    cloudwatch = cloudwatch or single_attempt_client("cloudwatch", region, role=scope.role)
    # OakTree's own tables live in its own account: never read or written with a monitored role.
    raw_dynamodb = dynamodb or single_attempt_client("dynamodb", settings.storage_region)

    report = RegionReport(region=region, account_id=scope.account_id)
    counters = report.counters

    def caller(operation: str, limiter_scope: str, rate: float) -> RetryingCaller:
        return RetryingCaller(
            operation,
            limiter=limiter_for(limiter_scope, operation, rate),
            counters=counters,
            max_attempts=settings.collection_max_attempts,
            sleep=sleep,
        )

    # GetMetricData's quota is per account and region: one bucket per pair.
    get_metric_data = functools.partial(
        caller("GetMetricData", scope.label, settings.getmetricdata_tps), cloudwatch.get_metric_data
    )
    store_dynamodb = CountedDynamoDB(
        raw_dynamodb,
        write=caller("BatchWriteItem", settings.storage_region, settings.dynamodb_write_tps),
        read=caller("BatchGetItem", settings.storage_region, settings.dynamodb_read_tps),
    )

    series: list[Series] = series_of(resources_of(scope, resources))
    report.series = len(series)
    watermarks = metrics_store.load_watermarks(
        store_dynamodb, table, (one.key for one in series), sleep=sleep
    )
    batches = pack_batches(
        plan_windows(
            series,
            watermarks,
            now_ms=now_ms,
            overlap_minutes=settings.settling_overlap_minutes,
            lookback_minutes=settings.backfill_lookback_minutes,
        )
    )
    report.batches = len(batches)

    # The pool has `collection_threads` threads; how many run a batch at once follows whether
    # batches wait on AWS (more help) or compute (more only contend for the GIL).
    in_flight = InFlightLimit(settings.collection_threads)

    def fetch_and_store(batch: MetricBatch) -> tuple[BatchResult, WriteStats]:
        with in_flight.slot():
            result = fetch_batch(batch, get_metric_data)
            stats = write_items(
                store_dynamodb,
                table,
                _batch_items(result, settings.raw_ttl_days),
                metrics_store.KEY_ATTRIBUTES,
                sleep=sleep,
            )
        return result, stats

    held: list[BatchResult] = []
    store_failure: list[BaseException] = []

    def store(chunk: list[BatchResult]) -> tuple[int, WriteStats]:
        """Write one chunk's points to the warehouse, then move its complete series' watermarks.

        Returns the points stored and the watermark writes' stats (counted by the main thread).
        """
        if store_failure:
            return 0, WriteStats()  # an earlier chunk failed: leave these watermarks for the next run
        try:
            points = points_table([one for result in chunk for one in result.points])
            stored_points = write_warehouse(points) if points.num_rows else 0
            advanced = {
                result.batch.series[index].key: result.batch.window.end_ms
                for result in chunk
                for index in range(len(result.batch.series))
                if index not in result.incomplete
            }
            watermark_writes = write_items(
                store_dynamodb,
                table,
                metrics_store.watermark_items(
                    advanced,
                    region=region,
                    account_id=scope.account_id,
                    ttl_days=settings.raw_ttl_days,
                    updated_ms=now_ms,
                ),
                metrics_store.KEY_ATTRIBUTES,
                sleep=sleep,
            )
        except BaseException as exc:
            store_failure.append(exc)
            raise
        return stored_points, watermark_writes

    held_rows = 0
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{region}") as store_pool,
        ThreadPoolExecutor(
            max_workers=settings.collection_threads, thread_name_prefix=f"collect-{region}"
        ) as pool,
    ):
        stores: list[Future[tuple[int, WriteStats]]] = []
        # Each batch runs in a copy of this thread's context, so its log lines keep the run ids.
        futures: dict[Future[tuple[BatchResult, WriteStats]], MetricBatch] = {
            pool.submit(contextvars.copy_context().run, fetch_and_store, batch): batch for batch in batches
        }
        for future in as_completed(futures):
            batch = futures[future]
            try:
                result, stats = future.result()
            except COLLECTION_ERRORS as exc:
                reason = f"{_batch_label(batch)}: {_describe(exc)}"
                log.warning(
                    "collection_batch_failed", region=region, reason=reason, request_id=aws.request_id(exc)
                )
                report.failed_batches.append(reason)
                continue
            report.writes.add(stats)
            report.datapoints_dynamodb += stats.items_written
            report.partial_results += result.partial_results
            report.incomplete_series += len(result.incomplete)
            newest = max((one.timestamps_ms[-1] for one in result.points if one.timestamps_ms), default=None)
            if newest is not None:
                report.newest_point_ms = max(newest, report.newest_point_ms or newest)
            held.append(result)
            held_rows += result.datapoints
            if held_rows >= WAREHOUSE_FLUSH_ROWS:
                stores.append(store_pool.submit(contextvars.copy_context().run, store, held.copy()))
                held.clear()
                held_rows = 0
        if held:
            stores.append(store_pool.submit(contextvars.copy_context().run, store, held.copy()))
        for stored in stores:
            if stored.exception() is None:
                stored_points, watermark_writes = stored.result()
                report.datapoints_warehouse += stored_points
                # Watermark writes count in the write stats (retries, calls), not in the datapoints.
                report.writes.add(watermark_writes)
    if store_failure:
        raise store_failure[0]
    log.info(
        "collection_region_done",
        region=region,
        account_id=scope.account_id,
        series=report.series,
        batches=report.batches,
        datapoints=report.datapoints_dynamodb,
        failed_batches=len(report.failed_batches),
        peak_batches_in_flight=in_flight.peak_in_flight,
    )
    if report.failed_batches:
        raise RegionCollectionFailed(report)
    return report


def region_failure(region: str, exc: BaseException, account_id: str | None = None) -> RegionReport:
    """Return the report of a region whose collection raised `exc` (partial counts kept if known)."""
    if isinstance(exc, RegionCollectionFailed):
        return exc.report
    log.warning(
        "collection_region_failed",
        region=region,
        account_id=account_id,
        reason=_describe(exc),
        request_id=aws.request_id(exc),
    )
    return RegionReport(region=region, account_id=account_id, error=_describe(exc))


def collect_once(
    *,
    settings: Settings,
    resources: Sequence[Resource] | None = None,
    regions: Sequence[str] | None = None,
    now: datetime | None = None,
) -> CollectionReport:
    """Collect every configured account and region in parallel; a failing one is reported, others complete.

    `resources` defaults to the last discovered inventory, `regions` to every configured one.
    An account whose role cannot be assumed fails its regions (AccessDenied from STS).
    """
    now = now or datetime.now(UTC)
    if resources is None:
        from oaktree.discovery.store import load_inventory  # discovery owns the inventory

        resources = load_inventory(settings)
    scopes = account_regions(settings, regions=list(regions) if regions else None)
    reports: list[RegionReport] = []
    with ThreadPoolExecutor(max_workers=max(1, len(scopes)), thread_name_prefix="collect") as pool:
        futures = {
            pool.submit(
                contextvars.copy_context().run,
                collect_region,
                scope.region,
                resources,
                settings=settings,
                now=now,
                scope=scope,
            ): scope
            for scope in scopes
        }
        for future in as_completed(futures):
            scope = futures[future]
            try:
                reports.append(future.result())
            except (RegionCollectionFailed, *COLLECTION_ERRORS) as exc:
                reports.append(region_failure(scope.region, exc, scope.account_id))
    order = [scope.label for scope in scopes]
    reports.sort(key=lambda report: order.index(report.label))
    return CollectionReport(collected_at=now, regions=reports)
