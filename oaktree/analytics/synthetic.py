"""A labelled synthetic fleet for measuring anomaly detection: seasonal series with planted anomalies.

Every series has a level, a daily cycle with its own amplitude and peak hour, quieter weekends
and Gaussian noise. Some series get one planted anomaly in the second half of the range:

- spike: one to three buckets far above the cycle;
- level_shift: from some moment in the last quarter of the range to its end, the series sits
  higher (or lower); earlier, it would be most of the history, the new normal;
- drift: a ramp over 6 to 12 hours that ends far above the cycle, then a return (a leak
  and a restart).

The same seed gives the same fleet and labels. Rows are 5-minute buckets of the warehouse's
`metrics_5m` table (as if the minute values of a bucket were equal), so the detector reads them
exactly as it reads collected data. `detection_scores` compares what was found with the labels.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from oaktree.warehouse.schema import Resolution

KINDS = ("spike", "level_shift", "drift")
BUCKET = Resolution.FIVE_MINUTES.width
BUCKETS_PER_DAY = int(timedelta(days=1) / BUCKET)


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledFleet:
    """Synthetic 5-minute buckets (`metrics_5m` rows) and the anomalies planted in them.

    `labels` columns: resource_id, kind, start, end (exclusive), magnitude (in noise standard
    deviations at the anomaly's peak).
    """

    buckets: pa.Table
    labels: pd.DataFrame


def labelled_fleet(
    *, series: int, days: int, start: datetime, seed: int = 7, planted_share: float = 0.5
) -> LabelledFleet:
    """Return `series` CPU-like series of `days` days from `start`; a `planted_share` get an anomaly."""
    rng = np.random.default_rng(seed)
    count = days * BUCKETS_PER_DAY
    offsets = np.arange(count)
    moments = pd.date_range(start, periods=count, freq=pd.Timedelta(BUCKET))
    hours = moments.hour.to_numpy() + moments.minute.to_numpy() / 60
    weekend = moments.day_of_week.to_numpy() >= 5
    values = np.empty((series, count))
    labels = []
    for index in range(series):
        level = rng.uniform(20, 50)
        amplitude = rng.uniform(5, 25)
        peak_hour = rng.uniform(0, 24)
        weekend_factor = rng.uniform(0.5, 1.0)
        noise = rng.uniform(1.0, 3.0)
        cycle = (
            amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24) * np.where(weekend, weekend_factor, 1)
        )
        row = level + cycle + rng.normal(0, noise, count)
        resource_id = f"syn-{index:04d}"
        if rng.uniform() < planted_share:
            kind = KINDS[int(rng.integers(len(KINDS)))]
            earliest = count // 2 if kind != "level_shift" else count - count // 4
            first = int(rng.integers(earliest, max(earliest + 1, count - BUCKETS_PER_DAY // 2)))
            magnitude = float(rng.uniform(8, 15))
            sign = 1 if kind != "level_shift" or rng.uniform() < 0.7 else -1
            if kind == "spike":
                length = int(rng.integers(1, 4))
                row[first : first + length] += magnitude * noise
            elif kind == "level_shift":
                length = count - first
                row[first:] += sign * magnitude * noise
            else:
                length = int(rng.integers(72, 145))  # 6 to 12 hours of 5-minute buckets
                ramp = np.linspace(0, 1, length + 1)[1:]
                row[first : first + length] += magnitude * noise * ramp[: len(row[first : first + length])]
                length = min(length, count - first)
            labels.append(
                {
                    "resource_id": resource_id,
                    "kind": kind,
                    "start": moments[first],
                    "end": moments[first] + length * pd.Timedelta(BUCKET),
                    "magnitude": sign * magnitude,
                }
            )
        values[index] = np.clip(row, 0, 100)
    return LabelledFleet(buckets=_bucket_rows(values, moments, offsets), labels=pd.DataFrame(labels))


def _bucket_rows(values: np.ndarray, moments: pd.DatetimeIndex, offsets: np.ndarray) -> pa.Table:
    """Return the values as `metrics_5m` rows (every series CPUUtilization / Average, in Percent)."""
    series, count = values.shape
    flat = values.reshape(-1)
    ids = np.repeat(np.array([f"syn-{index:04d}" for index in range(series)], dtype=object), count)
    total = series * count

    def constant(text: str) -> np.ndarray:
        return np.full(total, text, dtype=object)

    columns = {
        "resource_id": ids,
        "resource_type": constant("ec2_instance"),
        "region": constant("us-east-1"),
        "metric_name": constant("CPUUtilization"),
        "statistic": constant("Average"),
        "unit": constant("Percent"),
        "bucket": pa.array(np.tile(moments.to_numpy(), series)).cast(pa.timestamp("ms", tz="UTC")),
        "avg": flat,
        "min": flat,
        "max": flat,
        "sum": flat * 5,
        "count": np.full(total, 5, dtype=np.int64),
        "p95": flat,
        "account_id": constant("123456789012"),
    }
    return pa.Table.from_pydict(columns, schema=Resolution.FIVE_MINUTES.table.arrow_schema())


def detection_scores(
    anomalies: pd.DataFrame, labels: pd.DataFrame, *, points_scored: int
) -> dict[str, float]:
    """Return precision and recall of found anomalies (`find_anomalies` rows) against planted labels.

    - precision: the share of anomalous points that lie inside a planted anomaly of their series;
    - point_recall: the share of planted points found (a drift's first hours are, by design,
      still inside the band);
    - episode_recall: the share of planted anomalies with at least one point found, overall and
      per kind (`recall_spike`, ...);
    - false_positive_rate: anomalous points outside any planted anomaly, per point scored.
    """
    found = anomalies[["resource_id", "ts"]].copy()
    found["ts"] = pd.to_datetime(found["ts"], utc=True)
    joined = found.merge(labels, on="resource_id", how="left")
    inside = (joined["ts"] >= joined["start"]) & (joined["ts"] < joined["end"])
    joined["inside"] = inside
    true_points = joined[inside]
    hits_per_label = true_points.groupby(["resource_id", "start"]).size()
    planted_points = int(((labels["end"] - labels["start"]) / pd.Timedelta(BUCKET)).sum())
    scores = {
        "found_points": float(len(found)),
        "precision": len(true_points) / len(found) if len(found) else 1.0,
        "point_recall": len(true_points) / planted_points if planted_points else 1.0,
        "episode_recall": len(hits_per_label) / len(labels) if len(labels) else 1.0,
        "false_positive_rate": (len(found) - len(true_points)) / points_scored if points_scored else 0.0,
    }
    for kind in KINDS:
        planted = labels[labels["kind"] == kind]
        found_kind = sum(
            (resource_id, start) in hits_per_label.index
            for resource_id, start in zip(planted["resource_id"], planted["start"], strict=True)
        )
        scores[f"recall_{kind}"] = found_kind / len(planted) if len(planted) else 1.0
    return scores
