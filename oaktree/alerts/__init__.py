"""The alert engine: CloudWatch-style rules on the collected metrics, exactly-once notifications.

- `rules`: the vocabulary (CloudWatch's names), `Rule`, validation of drafts (`InvalidRule`).
- `evaluation`: `evaluate`, the one pure function every evaluation goes through.
- `engine`: one pass over every enabled rule (one warehouse read), transitions and events.
- `outbox`: notifications written with their transitions, sent exactly once.
- `channels`, `silences`, `backtest`, `rules_file` (alerts as code), `store` (the database side).
- `service`: what the dashboard and the CLI call (role checks, audit log).
"""
