"""Take the README's dashboard screenshots (1440x900) from a running `oaktree dashboard`.

Usage, after the demo filled a data dir:

    OAKTREE_DATA_DIR=/tmp/demo uv run oaktree demo --once --json
    OAKTREE_DATA_DIR=/tmp/demo/demo uv run oaktree dashboard --port 8501 &
    uv run python -m scripts.dashboard_screenshots --url http://127.0.0.1:8501 --data-dir /tmp/demo/demo

It signs in through the login form with a demo account (`demo-logins.txt` in the data dir; the
viewer by default: after `demo --once` the sandbox AWS is gone, and the operator's action panel
would say it cannot read the instance's state), opens the busiest EC2 instance's detail page
(read from the warehouse), and saves login.png, overview.png, resource-detail.png, map.png,
alerts.png and analytics.png in docs/screenshots/.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from scripts.screenshots import CHROMIUM_ARGS

PROJECT_DIR = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1440, "height": 900}
SETTLE_MS = 60_000
# Plotly and ECharts draw after the script has finished; this is how long they are given.
DRAWING_MS = 2_500


def settle(page: Page, timeout_ms: int = SETTLE_MS) -> None:
    """Wait until the app is connected, its script has finished running and no placeholder remains.

    Every page of the app starts with a title, so a visible one means the run has begun: the
    script state read after it is this run's, not the idle state before the first run.
    """
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout_ms)
    expect(page.locator("[data-testid=stMain] h1").first).to_be_visible(timeout=timeout_ms)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)


def demo_login(data_dir: Path, role: str) -> tuple[str, str]:
    """Return the username and password of the demo account with `role` (written by `oaktree demo`)."""
    for line in (data_dir / "demo-logins.txt").read_text().splitlines():
        username, password, account_role = line.split(" ", 2)
        if account_role == role:
            return username, password
    raise SystemExit(f"no {role} in {data_dir / 'demo-logins.txt'}: run `oaktree demo --once` first")


def busiest_instance(data_dir: Path) -> str:
    """Return the id of the EC2 instance with the highest mean CPU over the last 3 hours."""
    from datetime import UTC, datetime, timedelta

    from oaktree.config import load_settings
    from oaktree.warehouse import connect, read

    now = datetime.now(UTC)
    with connect(read_only=True, settings=load_settings(data_dir=data_dir)) as connection:
        top = read.top_resources(
            connection,
            metric_name="CPUUtilization",
            statistic="Average",
            start=now - timedelta(hours=3),
            end=now,
            limit=1,
            resource_types=["ec2_instance"],
        )
    if top.empty:
        raise SystemExit("no CPU points in the warehouse: run `oaktree demo --once` first")
    return str(top["resource_id"].iloc[0])


def shoot(page: Page, url: str, file: Path) -> None:
    """Open `url`, wait for the page and its charts, and save the viewport as `file`."""
    page.goto(url)
    settle(page)
    page.wait_for_timeout(DRAWING_MS)
    page.screenshot(path=str(file))
    print(f"saved {file}")


def main() -> None:
    """Sign in, visit the main screens and save their screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501", help="the running dashboard")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the demo's data dir (logins, warehouse)"
    )
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs" / "screenshots")
    parser.add_argument(
        "--role", default="viewer", help="the demo account to sign in as (admin, operator, viewer)"
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    base = args.url.rstrip("/")
    username, password = demo_login(args.data_dir, args.role)
    resource_id = busiest_instance(args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        shoot(page, f"{base}/", args.out / "login.png")
        page.fill("#oaktree-identifier", username)
        page.fill("#oaktree-password", password)
        with page.expect_navigation():
            page.click("form.oaktree-login button[type=submit]")
        settle(page)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        shoot(page, f"{base}/", args.out / "overview.png")
        shoot(page, f"{base}/resource_detail?id={resource_id}", args.out / "resource-detail.png")
        shoot(page, f"{base}/map", args.out / "map.png")
        shoot(page, f"{base}/alerts", args.out / "alerts.png")
        shoot(page, f"{base}/analytics?analytics_tab=Anomalies", args.out / "analytics.png")
        browser.close()


if __name__ == "__main__":
    main()
