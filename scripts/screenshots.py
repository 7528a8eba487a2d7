"""Take the README's screenshots with Debian's chromium (never a downloaded browser).

Usage: uv run python scripts/screenshots.py URL=FILE [URL=FILE ...]
Run while `make demo` is up, e.g. the Prefect UI's runs page.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

# As root Chromium needs --no-sandbox; the others keep it from stalling on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def main(pairs: list[str]) -> None:
    """Save a full-page PNG of each URL."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for pair in pairs:
            url, _, file_name = pair.partition("=")
            page.goto(url, wait_until="networkidle", timeout=60_000)
            page.wait_for_timeout(2_000)  # the UI renders its charts after the data arrives
            Path(file_name).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=file_name)
            print(f"saved {file_name}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
