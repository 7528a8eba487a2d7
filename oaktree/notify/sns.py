"""The SNS channel: Publish to a topic (FIFO topics get a deduplication id, so a retry is harmless)."""

from __future__ import annotations

import dataclasses
import hashlib

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from oaktree import aws
from oaktree.notify import DeliveryError

MAX_SUBJECT = 100
# Error codes worth retrying; anything else (NotFound, AuthorizationError, InvalidParameter) is not.
_RETRYABLE_CODES = frozenset({"Throttling", "ThrottlingException", "InternalError", "ServiceUnavailable"})


def topic_region(topic_arn: str) -> str:
    """Return the region in an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[3]:
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3]


@dataclasses.dataclass(frozen=True, slots=True)
class SnsChannel:
    """Publishes to one SNS topic through boto3's standard chain."""

    topic_arn: str

    @property
    def idempotent(self) -> bool:
        """Return True for FIFO topics, which drop a message whose deduplication id they have seen."""
        return self.topic_arn.endswith(".fifo")

    def send(self, *, subject: str, message: str, deduplication_id: str, group: str) -> str:
        """Publish one message; return its MessageId; raise DeliveryError on failure."""
        request = {
            "TopicArn": self.topic_arn,
            "Subject": " ".join(subject.split())[:MAX_SUBJECT],
            "Message": message,
        }
        if self.idempotent:
            request["MessageGroupId"] = hashlib.sha256(group.encode()).hexdigest()[:64]
            request["MessageDeduplicationId"] = hashlib.sha256(deduplication_id.encode()).hexdigest()[:64]
        client = aws.client("sns", topic_region(self.topic_arn))
        try:
            return str(client.publish(**request)["MessageId"])
        except EndpointConnectionError:
            raise DeliveryError("cannot connect to SNS", retryable=True) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise DeliveryError(
                f"SNS refused the message ({code})", retryable=code in _RETRYABLE_CODES
            ) from None
        except BotoCoreError as exc:
            raise DeliveryError(
                f"SNS transport error ({type(exc).__name__})", retryable=True, maybe_delivered=True
            ) from None
