"""An S3-compatible server for the session (moto's server mode on 127.0.0.1), loaded by ``tests/conftest.py``.

``s3_url`` gives each test its own empty bucket and points the AWS client
settings (endpoint, dummy credentials) at the server, as a user would for
MinIO or any other S3-compatible store.
"""

from __future__ import annotations

import uuid

import pytest
from unavailable import unavailable


def _needed(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed (pip install -e '.[test]' installs it)"
        unavailable(message)


@pytest.fixture(scope="session")
def s3_endpoint():
    _needed("moto")
    _needed("s3fs")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_url(s3_endpoint, monkeypatch):
    """``s3://<fresh bucket>/mias-bench`` on the session's server, with the client settings pointing at it."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/mias-bench"
