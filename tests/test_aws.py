"""oaktree.aws: the request id of a failed call, for the logs."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from oaktree import aws as aws_clients


def test_request_id_of_a_refused_call(aws: None) -> None:
    client = aws_clients.client("dynamodb", "us-east-1")
    with pytest.raises(ClientError) as refused:
        client.describe_table(TableName="missing")

    request_id = aws_clients.request_id(refused.value)

    assert request_id == refused.value.response["ResponseMetadata"]["RequestId"]
    assert len(request_id) >= 16


def test_no_request_id_without_a_request() -> None:
    assert aws_clients.request_id(EndpointConnectionError(endpoint_url="http://127.0.0.1:9")) is None
    assert aws_clients.request_id(ValueError("not AWS")) is None
