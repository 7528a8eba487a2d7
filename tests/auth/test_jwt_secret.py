"""Where the signing secret comes from: environment, Secrets Manager, or (sandbox only) a kept file."""

from __future__ import annotations

import stat
from typing import Any

import pytest

from oaktree import aws
from oaktree.auth import auth_context, resolve_jwt_secret
from oaktree.config import ConfigError, load_settings

ENV_SECRET = "environment-secret-" + "e" * 32


def test_environment_secret_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAKTREE_JWT_SECRET", ENV_SECRET)
    assert resolve_jwt_secret(load_settings()) == ENV_SECRET
    assert auth_context(load_settings()).signer.secret == ENV_SECRET


def test_secrets_manager_secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    created = aws_client().create_secret(Name="oaktree/jwt", SecretString="from-secrets-manager-" + "s" * 32)
    monkeypatch.setenv("OAKTREE_JWT_SECRET_ARN", created["ARN"])
    settings = load_settings(mode="production", bcrypt_rounds=12)
    assert resolve_jwt_secret(settings) == "from-secrets-manager-" + "s" * 32


def test_missing_secrets_manager_secret_is_a_config_error(aws: None) -> None:
    arn = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(ConfigError, match=r"cannot read the JWT secret .* \(ResourceNotFoundException\)"):
        resolve_jwt_secret(load_settings(mode="production", bcrypt_rounds=12, jwt_secret_arn=arn))


def aws_client() -> Any:
    return aws.client("secretsmanager", "ap-southeast-1")


def test_production_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(
        ConfigError, match="production mode needs OAKTREE_JWT_SECRET or OAKTREE_JWT_SECRET_ARN"
    ):
        load_settings(mode="production", bcrypt_rounds=12)


def test_production_refuses_a_weak_secret() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        auth_context(load_settings(mode="production", bcrypt_rounds=12, jwt_secret="changeme"))


def test_sandbox_generates_one_private_secret_and_keeps_it() -> None:
    settings = load_settings()
    first = resolve_jwt_secret(settings)
    path = settings.data_dir / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 64
    assert resolve_jwt_secret(load_settings()) == first  # survives a restart
    assert [p.name for p in settings.data_dir.iterdir()] == ["jwt-secret"]  # no temporary files left
