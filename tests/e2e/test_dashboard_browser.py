"""The dashboard in a real browser: Debian's chromium (Playwright) against `oaktree dashboard`.

One server for the module, on a fresh PostgreSQL database and data dir holding the dashboard
tests' estate plus one EC2 instance that lives in a moto server (so "stop" reaches AWS); one
browser, one context per signed-in user. What AppTest cannot reach is tested here: the login
form posting to the server route, the HttpOnly cookie, a refresh, logout, URLs typed by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import func, select

from models import Alert, AuditEntry, User
from oaktree import aws as aws_clients
from oaktree import db
from oaktree.auth.passwords import MIN_PASSWORD_LENGTH
from oaktree.config import Settings, load_settings
from oaktree.inventory import Resource, ResourceType
from oaktree.storage.tables import ensure_tables
from scripts.screenshots import CHROMIUM_ARGS
from tests.conftest import PG_ADMIN_DSN
from tests.dashboards.estate import ACCOUNTS, PASSWORD, REGION_A, REGION_B, create_users, store_estate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

PROJECT_DIR = Path(__file__).resolve().parents[2]
USERNAMES = {role: username for username, role in ACCOUNTS}
# The session cookie's name, as the login route sets it.
SESSION_COOKIE = "oaktree_session"
SCREENSHOTS_ENV = "OAKTREE_E2E_SCREENSHOTS"
# Every wait is bounded: a page that never settles fails the test instead of hanging the suite.
SETTLE_MS = 30_000

# Nav links each role sees (page titles in the sidebar); the hidden detail page is never listed.
MONITORING = ["Overview", "Resources", "Infrastructure map", "Alerts", "Analytics", "Pipeline health"]
NAV_LINKS = {
    "admin": [*MONITORING, "Settings", "Administration"],
    "operator": [*MONITORING, "Settings"],
    "viewer": [*MONITORING, "Settings"],
}
# URL path of each listed page (Streamlit names a page's URL after its file; the default is "/").
PAGE_PATHS = {
    "Overview": "",
    "Resources": "resources",
    "Infrastructure map": "map",
    "Alerts": "alerts",
    "Analytics": "analytics",
    "Pipeline health": "pipeline",
    "Settings": "settings",
    "Administration": "admin",
}


@dataclass(frozen=True)
class Dashboard:
    """The running dashboard: its address, the settings it runs on, the moto endpoint and instance."""

    url: str
    settings: Settings
    moto_endpoint: str
    instance_id: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database for the module; drop it afterwards."""
    name = f"oaktree_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    db.dispose_engines()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sandbox_instance(moto_endpoint: str) -> Resource:
    """Launch one running EC2 instance in moto and return it as the inventory records it."""
    ec2 = boto3.client("ec2", region_name=REGION_A, endpoint_url=moto_endpoint)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    [instance] = ec2.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "app-1"}]}],
    )["Instances"]
    instance_id = instance["InstanceId"]
    return Resource(
        instance_id,
        f"arn:aws:ec2:{REGION_A}:123456789012:instance/{instance_id}",
        ResourceType.EC2_INSTANCE,
        REGION_A,
        "app-1",
        "running",
        {"env": "prod"},
        instance_type="t3.micro",
        vpc_id=instance.get("VpcId"),
        subnet_id=instance.get("SubnetId"),
    )


def _wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the dashboard exited ({server.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer within 90 s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dashboard(
    dashboard_database: str, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """Seed users, the estate and a moto instance, then run `oaktree dashboard` on them for the module."""
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    server_env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OAKTREE_", "AWS_", "PREFECT_API"))
    }
    server_env.update(
        OAKTREE_DATA_DIR=str(data_dir),
        OAKTREE_DATABASE_URL=dashboard_database,
        OAKTREE_REGIONS=f"{REGION_A},{REGION_B}",
        # The lowest cost bcrypt allows, as in every other test; sandbox mode accepts it.
        OAKTREE_BCRYPT_ROUNDS="4",
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION_A,
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("OAKTREE_", "AWS_")):
                patch.delenv(name)
        for name, value in server_env.items():
            if name.startswith(("OAKTREE_", "AWS_")):
                patch.setenv(name, value)
        aws_clients.reset_clients()
        settings = load_settings()
        db.upgrade(dashboard_database)
        create_users(settings)
        # Actions record their event in DynamoDB's events table, then in the warehouse.
        ensure_tables(
            metrics_table=settings.metrics_table,
            events_table=settings.events_table,
            region=settings.storage_region,
        )
        instance = _sandbox_instance(moto_endpoint)
        store_estate(settings, extra=[instance])
    aws_clients.reset_clients()

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "dashboard.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli", "dashboard", "--port", str(port)],
            cwd=PROJECT_DIR,
            env=server_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(url, server, log)
        yield Dashboard(url, settings, moto_endpoint, instance.resource_id)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Launch Debian's chromium once for the module (Playwright never downloads a browser here)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """Return a fresh browser context (no cookies) for one test."""
    made = browser.new_context(viewport={"width": 1440, "height": 900})
    made.set_default_timeout(SETTLE_MS)
    yield made
    made.close()


def settle(page: Page) -> None:
    """Wait until the app is connected, its script has finished running and no placeholder remains."""
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]")
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)


def open_page(page: Page, dashboard: Dashboard, path: str = "") -> None:
    """Go to one of the dashboard's URLs and wait for it to settle."""
    page.goto(f"{dashboard.url}/{path}")
    settle(page)


def sign_in(page: Page, dashboard: Dashboard, identifier: str, password: str) -> None:
    """Fill the login form and submit it; wait for the page the redirect leads to."""
    open_page(page, dashboard)
    page.fill("#oaktree-identifier", identifier)
    page.fill("#oaktree-password", password)
    with page.expect_navigation():
        page.click("form.oaktree-login button[type=submit]")
    settle(page)


def signed_in_page(context: BrowserContext, dashboard: Dashboard, role: str) -> Page:
    """Return a page signed in as the role's user (through the login form)."""
    page = context.new_page()
    sign_in(page, dashboard, USERNAMES[role], PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return page


def alerts_shown(page: Page) -> list[str]:
    """Return the text of every message box (error, warning, info, success) on the page."""
    # The message's own text, without the icon's ligature name.
    boxes = page.locator("[data-testid=stAlert] [data-testid=stMarkdownContainer]")
    return [text.strip() for text in boxes.all_inner_texts()]


def assert_no_failure(page: Page) -> None:
    """Fail if the page shows an exception or the router's "this page failed" message."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    failures = [text for text in alerts_shown(page) if "This page failed" in text]
    assert not failures, failures


def nav_links(page: Page) -> list[str]:
    """Return the page titles listed in the sidebar navigation."""
    return [text.strip() for text in page.get_by_test_id("stSidebarNavLink").all_inner_texts()]


def save_screenshot(page: Page, name: str) -> None:
    """Save a screenshot when OAKTREE_E2E_SCREENSHOTS names a directory (a record of what was tested)."""
    directory = os.environ.get(SCREENSHOTS_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"))


def user_count(settings: Settings) -> int:
    with db.session_scope(settings=settings) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_login_refuses_wrong_and_unknown_alike_then_sets_an_httponly_strict_cookie(
    dashboard: Dashboard, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, dashboard, USERNAMES["viewer"], "not-the-password-1")
    wrong_password = alerts_shown(page)
    sign_in(page, dashboard, "nobody-by-this-name", "not-the-password-1")
    unknown_user = alerts_shown(page)
    assert wrong_password == unknown_user == ["Invalid username/email or password."]
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]

    sign_in(page, dashboard, USERNAMES["viewer"], PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert_no_failure(page)
    [cookie] = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    # Page scripts cannot read it.
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    save_screenshot(page, "overview")
