"""The demo's alert step: loopback sinks, the sandbox's rules, one pass, and what each sink received.

The sandbox's incident (one instance per region above 90 % CPU, one table throttling) is in
progress when it starts and collection backfills hours of it, so the first pass over settled
periods fires; the notifications go to a real SMTP server and a real HTTP receiver on loopback,
whose received messages the summary lists. The sinks keep running while the demo serves its
schedules, so later alerts arrive there too (daemon threads: they end with the process).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.alert_commands import CLI_PRINCIPAL, evaluate_once
from oaktree import config, db
from oaktree.alerts.rules_file import apply_rules, load_rules_file
from oaktree.config import Settings
from sandbox.sinks import MailSink, WebhookSink

SANDBOX_RULES = Path(__file__).resolve().parent.parent / "sandbox" / "rules.yaml"
WEBHOOK_VARIABLE = "OAKTREE_DEMO_WEBHOOK_URL"  # sandbox/rules.yaml's webhook channel reads it
_SINKS: dict[str, Any] = {}


def start_sinks() -> tuple[MailSink, WebhookSink]:
    """Start the SMTP and webhook sinks once per process and point the channels' settings at them."""
    if not _SINKS:
        _SINKS["mail"] = MailSink().start()
        _SINKS["webhook"] = WebhookSink().start()
    mail, webhook = _SINKS["mail"], _SINKS["webhook"]
    os.environ.update(
        {
            "OAKTREE_SMTP_HOST": "127.0.0.1",
            "OAKTREE_SMTP_PORT": str(mail.port),
            "OAKTREE_SMTP_STARTTLS": "false",
            WEBHOOK_VARIABLE: f"{webhook.url}/oaktree",
        }
    )
    config.get_settings.cache_clear()  # the email channel reads OAKTREE_SMTP_* from the settings
    return mail, webhook


def sinks_summary() -> dict[str, Any]:
    """Return what each sink received: the mails' recipients and subjects, the webhook's documents."""
    mail, webhook = _SINKS["mail"], _SINKS["webhook"]
    return {
        "mail": {
            "address": f"127.0.0.1:{mail.port}",
            "received": [{"to": m["to"], "subject": m["subject"]} for m in mail.received()],
        },
        "webhook": {
            "url": f"{webhook.url}/oaktree",
            "received": [
                {
                    key: request["body"].get(key)
                    for key in ("rule", "resource_id", "from_state", "to_state", "kind")
                }
                for request in webhook.received(accepted_only=True)
                if isinstance(request["body"], dict)
            ],
        },
    }


def run_alert_step(
    settings: Settings, *, evaluate: Callable[[Settings], dict[str, Any]] = evaluate_once
) -> dict[str, Any]:
    """Apply the sandbox's rules, evaluate once, send to the loopback sinks; return the summary.

    `evaluate` is one pass that also sends and records (the CLI's, or the `evaluate_alerts` flow).
    """
    start_sinks()
    settings = config.get_settings()  # read again: the sinks' SMTP address was just set
    db.upgrade(settings.sqlalchemy_url)
    with db.session_scope(settings=settings) as session:
        applied = apply_rules(
            session=session, principal=CLI_PRINCIPAL, rules_file=load_rules_file(SANDBOX_RULES)
        )
    outcome = evaluate(settings)
    notifications = outcome["notifications"] or {"sent": 0, "retrying": 0, "failed": 0, "waiting": 0}
    return {
        "rules_file": str(SANDBOX_RULES),
        "rules": applied["rules"]["created"] + applied["rules"]["updated"] + applied["rules"]["unchanged"],
        "transitions": [
            {"rule": t["rule"], "resource_id": t["resource_id"], "from": t["from"], "to": t["to"]}
            for t in outcome["transitions"]
        ],
        "notifications": {key: notifications[key] for key in ("sent", "retrying", "failed", "waiting")},
        "events_recorded": outcome["events_recorded"],
        "sinks": sinks_summary(),
    }


def alerts_text(summary: dict[str, Any]) -> list[str]:
    """Return the demo's alert lines for its human-readable output."""
    alarms = [t for t in summary["transitions"] if t["to"] == "ALARM"]
    lines = [f"alerts: {len(summary['transitions'])} transitions, {len(alarms)} to ALARM:"]
    lines += [f"  {t['rule']} on {t['resource_id']}: {t['from']} -> {t['to']}" for t in alarms]
    sinks = summary["sinks"]
    lines.append(
        f"mail sink {sinks['mail']['address']} received {len(sinks['mail']['received'])} message(s):"
    )
    lines += [f"  {message['subject']}" for message in sinks["mail"]["received"]]
    lines.append(
        f"webhook sink {sinks['webhook']['url']} received {len(sinks['webhook']['received'])} document(s)"
    )
    return lines
