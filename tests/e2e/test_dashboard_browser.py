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
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from sqlalchemy import func, select

from dashboards.session_routes import SESSION_COOKIE
from models import Alert, AuditEntry, User
from oaktree import aws as aws_clients
from oaktree import db
from oaktree.auth.passwords import MIN_PASSWORD_LENGTH
from oaktree.config import Settings, load_settings
from oaktree.inventory import Resource, ResourceType
from oaktree.storage.tables import ensure_tables
from scripts.dashboard_screenshots import settle
from scripts.screenshots import CHROMIUM_ARGS
from tests.conftest import PG_ADMIN_DSN
from tests.dashboards.estate import ACCOUNTS, PASSWORD, REGION_A, REGION_B, create_users, store_estate

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

PROJECT_DIR = Path(__file__).resolve().parents[2]
USERNAMES = {role: username for username, role in ACCOUNTS}
# Where the tests save what they saw (default: a pytest temporary directory).
SCREENSHOTS_ENV = "DASHBOARD_E2E_SCREENSHOTS"
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
    chromium = shutil.which("chromium")
    # Never fall back to a browser Playwright would download: `make services` installs Debian's.
    assert chromium is not None, "Debian's chromium is not installed (make services installs it)"
    # Assertions wait as long as actions do: a shared CI machine can be slow to rerun a page.
    expect.set_options(timeout=SETTLE_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """Return a fresh browser context (no cookies) for one test."""
    made = browser.new_context(viewport={"width": 1440, "height": 900})
    made.set_default_timeout(SETTLE_MS)
    yield made
    made.close()


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


def message_boxes(page: Page) -> Locator:
    """Return the text of the message boxes (error, warning, info, success), without their icons."""
    return page.locator("[data-testid=stAlert] [data-testid=stMarkdownContainer]")


def alerts_shown(page: Page) -> list[str]:
    """Return the text of every message box on the page."""
    return [text.strip() for text in message_boxes(page).all_inner_texts()]


def assert_no_failure(page: Page) -> None:
    """Fail if the page shows an exception or the router's "this page failed" message."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    failures = [text for text in alerts_shown(page) if "This page failed" in text]
    assert not failures, failures


def nav_links(page: Page) -> list[str]:
    """Return the page titles listed in the sidebar navigation."""
    # A link's text is its icon's ligature name, then its title.
    return [
        text.strip().splitlines()[-1] for text in page.get_by_test_id("stSidebarNavLink").all_inner_texts()
    ]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the directory the tests save their screenshots in ($DASHBOARD_E2E_SCREENSHOTS or a temp dir)."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_screenshot(page: Page, directory: Path, name: str) -> None:
    """Save what the page shows now as `<name>.png`: a record of what each test saw."""
    page.screenshot(path=str(directory / f"{name}.png"))


def user_count(settings: Settings) -> int:
    with db.session_scope(settings=settings) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_login_refuses_wrong_and_unknown_alike_then_sets_an_httponly_strict_cookie(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path
) -> None:
    page = context.new_page()
    sign_in(page, dashboard, USERNAMES["viewer"], "not-the-password-1")
    wrong_password = alerts_shown(page)
    sign_in(page, dashboard, "nobody-by-this-name", "not-the-password-1")
    unknown_user = alerts_shown(page)
    save_screenshot(page, screenshots, "login-refused")
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
    save_screenshot(page, screenshots, "overview")


def test_lockout_after_the_configured_failures_refuses_even_the_right_password(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path
) -> None:
    from oaktree.auth import auth_context, register_user
    from oaktree.auth.roles import Principal

    # An account of its own: locking it out must not disturb the other tests' users.
    with db.session_scope(settings=dashboard.settings) as session:
        register_user(
            session=session,
            ctx=auth_context(dashboard.settings),
            username="forgetful",
            email="forgetful@example.com",
            password=PASSWORD,
            role="viewer",
            principal=Principal.system(),
        )
    attempts = dashboard.settings.lockout_attempts
    page = context.new_page()
    for _ in range(attempts):
        sign_in(page, dashboard, "forgetful", "still-not-the-password")
    sign_in(page, dashboard, "forgetful", PASSWORD)

    [message] = alerts_shown(page)
    minutes = dashboard.settings.lockout_minutes
    save_screenshot(page, screenshots, "login-locked")
    assert message == (f"Too many failed attempts: this account is locked. Try again in {minutes} minute(s).")
    expect(page.get_by_role("heading", name="Sign in to OakTree")).to_be_visible()
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]


def test_registration_shows_each_field_message_and_stores_nothing(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path
) -> None:
    before = user_count(dashboard.settings)
    page = context.new_page()
    open_page(page, dashboard)
    page.get_by_test_id("stPageLink").get_by_text("Create an account").click()
    settle(page)
    expect(page.get_by_role("heading", name="Create your OakTree account")).to_be_visible()
    form = page.get_by_test_id("stForm")

    def submit(username: str, email: str, password: str, repeated: str, *, awaited: str) -> list[str]:
        """Submit the form; wait for the `awaited` message, then return every message shown."""
        form.get_by_label("Username").fill(username)
        form.get_by_label("Email").fill(email)
        form.get_by_label("Password", exact=True).fill(password)
        form.get_by_label("Password again").fill(repeated)
        form.get_by_role("button", name="Create account").click()
        expect(page.get_by_test_id("stAlert").filter(has_text=awaited)).to_be_visible()
        settle(page)
        return alerts_shown(page)

    too_short = f"Password must be at least {MIN_PASSWORD_LENGTH} characters"
    shown = submit("newcomer", "not-an-email", "short", "short", awaited=too_short)
    save_screenshot(page, screenshots, "register-field-messages")
    assert too_short in shown
    assert "Email: An email address must have an @-sign." in shown
    differ = "The two passwords differ."
    shown = submit(
        "newcomer", "newcomer@example.com", "a-long-enough-passphrase", "another-one", awaited=differ
    )
    assert shown == [differ]
    assert user_count(dashboard.settings) == before


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_every_listed_page_renders_for_the_role_and_nothing_else_is_listed(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path, role: str
) -> None:
    page = signed_in_page(context, dashboard, role)
    assert nav_links(page) == NAV_LINKS[role]
    for title in NAV_LINKS[role]:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
        expect(page).to_have_url(f"{dashboard.url}/{PAGE_PATHS[title]}")
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        settle(page)  # the page's run has started (its title is shown): wait for its end
        save_screenshot(page, screenshots, f"{role}-{PAGE_PATHS[title] or 'overview'}")
        assert_no_failure(page)
    # The detail page is routed (not listed) for every role.
    open_page(page, dashboard, f"resource_detail?id={dashboard.instance_id}")
    expect(page.get_by_role("heading", name="app-1")).to_be_visible()
    assert_no_failure(page)
    if role == "viewer":
        expect(page.get_by_role("heading", name="Actions")).to_have_count(0)
        expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    else:
        expect(page.get_by_role("heading", name="Actions")).to_be_visible()


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_typing_the_admin_url_does_not_reach_the_admin_page(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path, role: str
) -> None:
    page = signed_in_page(context, dashboard, role)
    open_page(page, dashboard, "admin")
    expect(page.get_by_test_id("stDialog")).to_contain_text("Page not found")
    save_screenshot(page, screenshots, f"{role}-admin-url")
    expect(page.get_by_role("heading", name="Administration")).to_have_count(0)
    # The default page runs behind the dialog instead.
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_refresh_keeps_the_session_and_logout_ends_it(dashboard: Dashboard, context: BrowserContext) -> None:
    page = signed_in_page(context, dashboard, "operator")
    page.reload()
    settle(page)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("Signed in as ops")).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    settle(page)
    expect(page.get_by_role("heading", name="Sign in to OakTree")).to_be_visible()
    expect(message_boxes(page)).to_have_text(["You are signed out."])
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    # Back and forward cannot bring the session back either.
    open_page(page, dashboard, "resources")
    expect(page.get_by_role("heading", name="Sign in to OakTree")).to_be_visible()


def test_operator_creates_an_alert_rule_through_the_form(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path
) -> None:
    page = signed_in_page(context, dashboard, "operator")
    open_page(page, dashboard, "alerts")
    page.get_by_role("tab", name="New rule").click()
    panel = page.get_by_role("tabpanel", name="New rule")
    for label, value in (
        ("Name", "app-1-cpu"),
        ("Resource id", dashboard.instance_id),
        ("Threshold", "85"),
        ("Period (seconds)", "60"),
        ("Evaluation periods (N)", "3"),
        ("Datapoints to alarm (M of N)", "2"),
    ):
        field = panel.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")  # commits the value (Streamlit reruns on enter or blur)
        settle(page)
    save_screenshot(page, screenshots, "alert-form-filled")
    panel.get_by_role("button", name="Create rule").click()
    expect(
        page.get_by_test_id("stAlert").filter(
            has_text="Rule app-1-cpu created. It is evaluated at the next pass (every minute)."
        )
    ).to_be_visible()
    with db.session_scope(settings=dashboard.settings) as session:
        rule = session.scalars(select(Alert).where(Alert.name == "app-1-cpu")).one()
        stored = (rule.resource_id, rule.threshold, rule.period_seconds, rule.evaluation_periods)
    assert stored == (dashboard.instance_id, 85.0, 60, 3)
    page.get_by_role("tab", name="Rules").click()
    expect(page.get_by_role("tabpanel", name="Rules").get_by_test_id("stDataFrame")).to_contain_text(
        "app-1-cpu"
    )


def test_operator_stops_an_instance_after_confirming(
    dashboard: Dashboard, context: BrowserContext, screenshots: Path
) -> None:
    page = signed_in_page(context, dashboard, "operator")
    open_page(page, dashboard, f"resource_detail?id={dashboard.instance_id}")
    expect(page.get_by_text("State in AWS now: running")).to_be_visible()

    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text("Really stop app-1")).to_be_visible()
    # Nothing happens before the confirmation.
    ec2 = boto3.client("ec2", region_name=REGION_A, endpoint_url=dashboard.moto_endpoint)

    def state() -> str:
        [reservation] = ec2.describe_instances(InstanceIds=[dashboard.instance_id])["Reservations"]
        return reservation["Instances"][0]["State"]["Name"]

    assert state() == "running"
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="ops stopped app-1 (running")).to_be_visible()
    assert state() in {"stopping", "stopped"}
    with db.session_scope(settings=dashboard.settings) as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.target == dashboard.instance_id)).all()
        recorded = [(entry.actor, entry.action) for entry in entries]
    assert recorded == [("ops", "resource.stop")]
    save_screenshot(page, screenshots, "resource-detail-after-stop")
