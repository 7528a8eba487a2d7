"""Run one evaluation pass, say so, then hang where sending would start: a test kills the process there.

Usage: python -m tests.alerts.pass_then_hang <ISO time of the pass>
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from oaktree import db
from oaktree.alerts.engine import run_pass
from oaktree.config import load_settings
from oaktree.logs import configure_logging

if __name__ == "__main__":
    configure_logging("WARNING")  # stdout carries only the signal line
    settings = load_settings()
    run_pass(
        settings=settings,
        factory=db.session_factory(settings.sqlalchemy_url),
        now=datetime.fromisoformat(sys.argv[1]),
    )
    print("committed", flush=True)
    time.sleep(600)
