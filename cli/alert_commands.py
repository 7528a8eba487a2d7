"""`oaktree alerts ...`: alerts as code, one evaluation pass, backtests, silences and history.

The CLI acts as the trusted system principal, like `oaktree users`: whoever runs it can reach
the database anyway. Every command takes `--json`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from cli.auth_commands import database_errors
from cli.common import JsonOption, UsageError, current_settings, emit, one_line_errors
from oaktree.auth.roles import Principal

if TYPE_CHECKING:
    from oaktree.config import Settings

P = ParamSpec("P")
R = TypeVar("R")

CLI_PRINCIPAL = Principal.system("cli")
RulesFileArgument = Annotated[Path, typer.Argument(help="A rules file (YAML: channels and rules).")]


def alert_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn invalid rules, channels, silences and files, and unknown names, into one-line UsageErrors."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from oaktree.alerts import service
        from oaktree.alerts.channels import InvalidChannel
        from oaktree.alerts.rules import InvalidRule
        from oaktree.alerts.rules_file import InvalidRulesFile
        from oaktree.alerts.silences import InvalidSilence

        try:
            return command(*args, **kwargs)
        except (InvalidRule, InvalidChannel, InvalidSilence, InvalidRulesFile) as exc:
            raise UsageError(f"invalid: {exc}") from None
        except (service.RuleNotFound, service.SilenceNotFound) as exc:
            raise UsageError(str(exc)) from None

    return wrapper


def _ready_settings() -> Settings:
    from oaktree import db

    settings = current_settings()
    db.require_current_schema(settings.sqlalchemy_url)
    return settings


def _rules_file(path: Path) -> Any:
    from oaktree.alerts.rules_file import load_rules_file

    if not path.is_file():
        raise UsageError(f"no rules file at {path}")
    return load_rules_file(path)


def evaluate_once(settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Run one pass, send what it queued (and anything left before), record its events; return a summary."""
    from oaktree import db
    from oaktree.alerts.engine import record_transition_events, run_pass
    from oaktree.alerts.outbox import send_pending

    factory = db.session_factory(settings.sqlalchemy_url)
    report = run_pass(settings=settings, factory=factory, now=now)
    sent = send_pending(factory=factory, settings=settings, now=now)
    events = record_transition_events(factory=factory, settings=settings, now=now)
    summary = report.to_dict()
    summary["notifications"] = sent.to_dict()
    summary["events_recorded"] = events
    return summary


def _rules_text(summary: dict[str, Any]) -> str:
    rows = summary["rules"]
    if not rows:
        return "no rules"
    lines = [f"{'RULE':<28} {'ON':<8} {'ALARM':>5} {'OK':>5} {'NODATA':>6}  CONDITION"]
    for rule in rows:
        counts = rule["counts"]
        condition = (
            f"{rule['metric_name']} {rule['statistic']} {rule['comparison_operator']} {rule['threshold']:g}"
        )
        enabled = "yes" if rule["enabled"] else "no"
        lines.append(
            f"{rule['name']:<28} {enabled:<8} {counts['ALARM']:>5} {counts['OK']:>5} "
            f"{counts['INSUFFICIENT_DATA']:>6}  {condition}"
        )
    return "\n".join(lines)


def _transitions_text(summary: dict[str, Any]) -> str:
    count = len(summary["transitions"])
    lines = [f"{summary['rules']} rules on {summary['targets']} resources; {count} transitions"]
    lines += [
        f"  {t['rule']} {t['resource_id']}: {t['from']} -> {t['to']} ({t['reason']})"
        for t in summary["transitions"]
    ]
    notes = summary["notifications"]
    lines.append(
        f"notifications: {notes['sent']} sent, {notes['retrying']} to retry, {notes['failed']} failed, "
        f"{notes['waiting']} waiting"
    )
    lines += [f"  {error['channel']}: {error['error']}" for error in notes["errors"]]
    return "\n".join(lines)


def _history_text(summary: dict[str, Any]) -> str:
    lines = []
    for row in summary["transitions"]:
        when = f"{row['recorded_at']:%Y-%m-%d %H:%M}"
        lines.append(f"{when} {row['rule']} {row['resource_id']}: {row['from']} -> {row['to']}")
        lines += [
            f"    {note['channel']} {note['kind']}: {note['status']} after {note['attempts']} attempt(s)"
            + (f" ({note['last_error']})" if note["last_error"] else "")
            for note in row["notifications"]
        ]
    return "\n".join(lines) or "no transitions"


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} must be an ISO date or time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add the `alerts` command group (and its `silence` subgroup) to the app."""
    alerts_app = typer.Typer(
        help="Alert rules, evaluation, backtests, silences and history.", no_args_is_help=True
    )
    silence_app = typer.Typer(help="Silences and maintenance windows.", no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")
    alerts_app.add_typer(silence_app, name="silence")

    @alerts_app.command("apply")
    @one_line_errors
    @database_errors
    @alert_errors
    def alerts_apply(
        path: RulesFileArgument,
        prune: Annotated[
            bool, typer.Option("--prune", help="Delete rules that are not in the file.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Create or update the file's channels and rules (idempotent); report created/updated/unchanged."""
        from oaktree import db
        from oaktree.alerts.rules_file import apply_rules

        settings = _ready_settings()
        rules_file = _rules_file(path)
        with db.session_scope(settings=settings) as session:
            summary = apply_rules(
                session=session, principal=CLI_PRINCIPAL, rules_file=rules_file, prune=prune
            )
        emit(summary, as_json=as_json)

    @alerts_app.command("list")
    @one_line_errors
    @database_errors
    def alerts_list(as_json: JsonOption = False) -> None:
        """List every rule with its current state on each resource."""
        from oaktree import db
        from oaktree.alerts import service

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            rules = service.list_rules(session=session, principal=CLI_PRINCIPAL)
            channels = service.list_channels(session=session, principal=CLI_PRINCIPAL)
        emit({"rules": rules, "channels": channels}, as_json=as_json, human=_rules_text)

    @alerts_app.command("evaluate")
    @one_line_errors
    @database_errors
    def alerts_evaluate(
        once: Annotated[
            bool,
            typer.Option("--once", help="One pass and exit (without it: serve the evaluation schedule)."),
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Evaluate every enabled rule once, send the notifications, print the transitions."""
        settings = _ready_settings()
        if not once:
            from flows.serve import serve_all  # repeating is Prefect's job

            serve_all(names=["evaluate_alerts"])
            return
        emit(evaluate_once(settings), as_json=as_json, human=_transitions_text)

    @alerts_app.command("backtest")
    @one_line_errors
    @alert_errors
    def alerts_backtest(
        path: RulesFileArgument,
        days: Annotated[float, typer.Option("--days", help="How far back to replay.")] = 7,
        rule: Annotated[str | None, typer.Option("--rule", help="Only this rule of the file.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Replay the file's rules over the stored history: how often each would have fired, and when."""
        from oaktree.alerts import service

        settings = current_settings()
        rules = [r for r in _rules_file(path).rules if rule is None or r.name == rule]
        if not rules:
            raise UsageError(f"no rule named {rule!r} in {path}")
        results = [
            service.backtest_rule(
                principal=CLI_PRINCIPAL, draft=draft, settings=settings, days=days
            ).to_dict()
            for draft in rules
        ]
        summary = {"days": days, "rules": results}
        emit(
            summary,
            as_json=as_json,
            human=lambda s: "\n".join(
                f"{r['rule']}: would have fired {r['fired']} time(s)"
                + "".join(f"\n  {x['resource_id']}: {x['fired']}" for x in r["resources"] if x["fired"])
                for r in s["rules"]
            ),
        )

    @alerts_app.command("history")
    @one_line_errors
    @database_errors
    def alerts_history(
        rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
        resource: Annotated[str | None, typer.Option("--resource", help="Only this resource id.")] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, max=5000, help="Newest transitions to show.")
        ] = 50,
        as_json: JsonOption = False,
    ) -> None:
        """Show transitions (reason, datapoints) with their notifications and every delivery attempt."""
        from oaktree import db
        from oaktree.alerts import service

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            transitions = service.list_history(
                session=session, principal=CLI_PRINCIPAL, rule=rule, resource_id=resource, limit=limit
            )
            deliveries = service.delivery_summary(session=session, principal=CLI_PRINCIPAL)
        emit({"transitions": transitions, "channels": deliveries}, as_json=as_json, human=_history_text)

    @silence_app.command("add")
    @one_line_errors
    @database_errors
    @alert_errors
    def silence_add(
        rule: Annotated[str | None, typer.Option("--rule", help="Silence this rule.")] = None,
        resource: Annotated[str | None, typer.Option("--resource", help="Silence this resource id.")] = None,
        tag: Annotated[
            str | None, typer.Option("--tag", help="Silence resources with this tag (key=value).")
        ] = None,
        minutes: Annotated[int | None, typer.Option("--for", help="Minutes from the start.")] = None,
        start: Annotated[str | None, typer.Option("--start", help="ISO start (default now).")] = None,
        until: Annotated[str | None, typer.Option("--until", help="ISO end.")] = None,
        weekly: Annotated[
            list[str] | None,
            typer.Option("--weekly", help="Recurring window such as 'sat,sun 02:00-04:00' (repeatable)."),
        ] = None,
        timezone: Annotated[str, typer.Option("--timezone", help="Time zone of the weekly windows.")] = "UTC",
        comment: Annotated[str, typer.Option("--comment", help="Why.")] = "",
        as_json: JsonOption = False,
    ) -> None:
        """Hold notifications of matching rule-resources for a while, or every week in a window."""
        from oaktree import db
        from oaktree.alerts import service

        settings = _ready_settings()
        draft = {
            "rule": rule,
            "resource_id": resource,
            "tag": tag,
            "duration_minutes": minutes,
            "starts_at": _parse_time(start, "--start"),
            "ends_at": _parse_time(until, "--until"),
            "weekly_windows": weekly or [],
            "timezone": timezone,
            "comment": comment,
        }
        with db.session_scope(settings=settings) as session:
            silence = service.create_silence(session=session, principal=CLI_PRINCIPAL, draft=draft)
        emit(silence, as_json=as_json)

    @silence_app.command("list")
    @one_line_errors
    @database_errors
    def silence_list(
        all_silences: Annotated[
            bool, typer.Option("--all", help="Include expired and ended silences.")
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """List silences (by default those active now or still to come)."""
        from oaktree import db
        from oaktree.alerts import service

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            silences = service.list_silences(
                session=session, principal=CLI_PRINCIPAL, include_expired=all_silences
            )
        emit({"silences": silences}, as_json=as_json)

    @silence_app.command("end")
    @one_line_errors
    @database_errors
    @alert_errors
    def silence_end(
        silence_id: Annotated[int, typer.Argument(help="The silence's id.")], as_json: JsonOption = False
    ) -> None:
        """End a silence now (the next pass sends what it held, if the state moved on)."""
        from oaktree import db
        from oaktree.alerts import service

        settings = _ready_settings()
        with db.session_scope(settings=settings) as session:
            silence = service.end_silence(session=session, principal=CLI_PRINCIPAL, silence_id=silence_id)
        emit(silence, as_json=as_json)
