"""The columnar shape of collected datapoints, shared by collection, DynamoDB and the warehouse.

Points travel between layers as a `pyarrow.Table` with `POINT_SCHEMA`; building one Python
object per point would cap the pipeline far below the 200,000 points/s it is benchmarked at.
"""

from __future__ import annotations

import pyarrow as pa

POINT_SCHEMA = pa.schema(
    [
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("metric_name", pa.string(), nullable=False),  # MetricSpec.series_name
        pa.field("statistic", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)
