"""Pipeline health: the last run of each flow from the Prefect API, the newest collection run's
per-region figures (series, datapoints, API calls, throttles), and collection lag per region.
When the Prefect API cannot be reached the page says so; the rest of the app does not depend on it."""

import os
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboards.context import cached_read, current_page_context, show_table, warehouse
from oaktree import overview
from oaktree.pipeline_health import PrefectUnreachable, flow_health, latest_artifact, ui_url

page = current_page_context()
st.title("Pipeline health")

api_url = os.environ.get("PREFECT_API_URL")
if not api_url:
    st.info(
        "No Prefect API configured (PREFECT_API_URL is unset), so run history is not shown. "
        "`make demo` starts a Prefect server and sets it."
    )
else:
    st.caption(f"Run history from the Prefect API; open the [Prefect UI]({ui_url(api_url)}) for every run.")
    try:
        flows = flow_health(api_url)
        collection = latest_artifact(api_url, "collection")
    except PrefectUnreachable as exc:
        st.warning(f"Run history is unavailable: {exc}. The rest of OakTree keeps working.")
    else:
        if not flows:
            st.info(
                "No flow has run yet: the first collection runs within a minute of the schedules starting."
            )
        else:
            table = pd.DataFrame([row.to_dict() for row in flows])
            table["last_started"] = table["last_started"].map(
                lambda moment: page.local(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
            )
            show_table(
                table,
                key="flow-health",
                file_name="pipeline-health.csv",
                column_config={
                    "run_url": st.column_config.LinkColumn("last run", display_text="open in Prefect"),
                    "last_seconds": st.column_config.NumberColumn("duration (s)", format="%.1f"),
                },
            )
            failing = [row.flow for row in flows if row.failed_last_day]
            if failing:
                st.error(f"Failed runs in the last day: {', '.join(failing)}.")
        st.subheader("Newest collection run")
        if collection:
            st.markdown(collection)
        else:
            st.caption("No collection run has published its figures yet.")

st.subheader("Collection lag per region")
if warehouse(quiet=True) is None:
    st.info("No warehouse yet: the first collection creates it.")
else:
    regions = [page.region] if page.region else list(page.settings.regions)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    freshness = cached_read(
        overview.data_freshness, now=now, regions=tuple(regions), account_ids=page.account_ids
    )
    show_table(freshness, key="pipeline-freshness", file_name="collection-lag.csv")
