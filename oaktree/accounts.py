"""The monitored accounts: which (account, region) pairs OakTree reads, and with which credentials.

`OAKTREE_ACCOUNTS` lists accounts, each with a role to assume and its regions; unset, OakTree
reads the account its own credentials belong to, in `OAKTREE_REGIONS`. Discovery and collection
fan out over `AccountRegion`s and make every client through one, so a region of one account never
reads with another account's credentials. An account whose role cannot be assumed fails alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from oaktree import aws
from oaktree.config import AccountSettings, Settings


@dataclasses.dataclass(frozen=True, slots=True)
class AccountRegion:
    """One region of one monitored account, and the role (if any) that reads it.

    `account_id` is None for the credentials' own account when no accounts are configured: its
    id is learnt from STS (`resolve_account_id`).
    """

    account_id: str | None
    region: str
    role: aws.AssumedRole | None = None

    @property
    def label(self) -> str:
        """Return `<account>/<region>`, or the region alone for the credentials' own account."""
        return self.region if self.account_id is None else f"{self.account_id}/{self.region}"

    def client(self, service: str, *, config: Config | None = None) -> Any:
        """Return a boto3 client of `service` in this account and region."""
        return aws.client(service, self.region, config=config, role=self.role)


def role_of(account: AccountSettings | None) -> aws.AssumedRole | None:
    """Return the role to assume for an account (None: read it with the credentials themselves)."""
    if account is None or account.role_arn is None:
        return None
    external_id = account.external_id.get_secret_value() if account.external_id else None
    return aws.AssumedRole(role_arn=account.role_arn, external_id=external_id)


def monitored_accounts(settings: Settings) -> list[AccountSettings | None]:
    """Return the configured accounts, or [None] (the credentials' own account) when none are."""
    return list(settings.accounts) or [None]


def account_regions(
    settings: Settings,
    *,
    account_ids: list[str] | None = None,
    regions: list[str] | None = None,
) -> list[AccountRegion]:
    """Return every (account, region) OakTree reads, optionally narrowed to some accounts or regions.

    Raises ConfigError for an account id that is not configured.
    """
    accounts = [settings.account(account_id) for account_id in account_ids] if account_ids else None
    return [
        AccountRegion(account.id if account else None, region, role_of(account))
        for account in (accounts or monitored_accounts(settings))
        for region in settings.regions_of(account)
        if not regions or region in regions
    ]


def account_region(settings: Settings, account_id: str | None, region: str) -> AccountRegion:
    """Return one region of one configured account (None: the credentials' own account).

    Raises ConfigError for an account id that is not configured.
    """
    account = settings.account(account_id)
    return AccountRegion(account.id if account else None, region, role_of(account))


class AccountUnavailable(Exception):
    """An account could not be reached: its role cannot be assumed, or it is another account."""

    def __init__(self, account_id: str | None, error_code: str, message: str) -> None:
        super().__init__(f"account {account_id or '(own credentials)'}: {error_code}: {message}")
        self.account_id = account_id
        self.error_code = error_code
        self.message = message


def resolve_account_id(scope: AccountRegion) -> str:
    """Return the id of the account `scope` reads, proving its credentials work (STS GetCallerIdentity).

    With a role this is the call that assumes it. Raises `AccountUnavailable` when the role cannot
    be assumed or the credentials act in another account than the one configured.
    """
    try:
        actual = aws.caller_account_id(scope.region, role=scope.role)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AccountUnavailable(
            scope.account_id, error.get("Code", "ClientError"), error.get("Message", str(exc))
        ) from exc
    except BotoCoreError as exc:
        raise AccountUnavailable(scope.account_id, type(exc).__name__, str(exc)) from exc
    if scope.account_id is not None and actual != scope.account_id:
        raise AccountUnavailable(
            scope.account_id,
            "WrongAccount",
            f"the credentials act in account {actual}, not {scope.account_id} (check role_arn)",
        )
    return actual
