"""Channel secrets: a value in a channel's configuration is the secret itself or a reference to it.

- `secretsmanager:<secret id or ARN>`: read from AWS Secrets Manager when sending;
- `env:<VARIABLE>`: read from the environment (the configuration of the process that sends);
- anything else is the value.

References are what gets stored, listed and logged; resolved values never leave the sender.
"""

from __future__ import annotations

import os

from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.notify import DeliveryError

SECRETS_MANAGER_PREFIX = "secretsmanager:"
ENVIRONMENT_PREFIX = "env:"
MASK = "********"


def is_reference(value: str) -> bool:
    """Return True if `value` names where a secret is rather than holding it."""
    return value.startswith((SECRETS_MANAGER_PREFIX, ENVIRONMENT_PREFIX))


def shown(value: str) -> str:
    """Return what may be displayed of a secret field: a reference as it is, a value masked."""
    return value if is_reference(value) else MASK


def _secret_region(secret_id: str, default_region: str) -> str:
    parts = secret_id.split(":")
    return parts[3] if secret_id.startswith("arn:") and len(parts) > 3 and parts[3] else default_region


def resolve(value: str, *, default_region: str) -> str:
    """Return the secret a channel field holds or points to; raise DeliveryError if it cannot be read."""
    if value.startswith(ENVIRONMENT_PREFIX):
        name = value.removeprefix(ENVIRONMENT_PREFIX)
        resolved = os.environ.get(name)
        if not resolved:
            raise DeliveryError(f"the environment variable {name} is not set", retryable=False)
        return resolved
    if value.startswith(SECRETS_MANAGER_PREFIX):
        secret_id = value.removeprefix(SECRETS_MANAGER_PREFIX)
        client = aws.client("secretsmanager", _secret_region(secret_id, default_region))
        try:
            answer = client.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            retryable = code in {"InternalServiceError", "ThrottlingException"}
            raise DeliveryError(f"cannot read secret {secret_id} ({code})", retryable=retryable) from None
        except BotoCoreError as exc:
            raise DeliveryError(
                f"cannot reach Secrets Manager for {secret_id} ({type(exc).__name__})", retryable=True
            ) from None
        secret = answer.get("SecretString")
        if not secret:
            raise DeliveryError(f"secret {secret_id} holds no text", retryable=False)
        return str(secret)
    return value
