"""One S3 upload in its own process: ``python -m harness.s3.client_child``, one JSON line out.

The process's memory is the measured one. boto3 and botocore are imported and
the client is built first (tens of MiB of service model), then ``VmHWM`` is
reset, so the peak that is reported is the upload's own, on top of that
baseline. A thread samples ``RssAnon`` every 10 ms beside it: ``VmHWM`` counts
file pages too (the workload's, read through the page cache), ``RssAnon`` only
what the client allocated.

Methods, each the way a program would call it:

``upload_fileobj``
    boto3's managed transfer: a multipart upload of ``--part-size`` parts, up
    to ``--concurrency`` in flight (s3transfer threads, each holding its part).
``put_object_bytes``
    ``put_object(Body=<the whole file read into memory>)``: the readFile of S3.
``put_object_file``
    ``put_object(Body=<the open file>)``: one PUT streamed from the file.

The client talks only to ``--endpoint``: keys are passed explicitly (no
credential chain), the EC2 metadata service is disabled, no config file or
profile is read, and proxies are ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types-boto3[s3]: stubs only, never imported at run time
    from types_boto3_s3.client import S3Client

METHODS = ("upload_fileobj", "put_object_bytes", "put_object_file")
RSS_SAMPLE_INTERVAL_S = 0.010
REGION = "us-east-1"
ACCESS_KEY_ENV = "STREAMBENCH_S3_ACCESS_KEY"
SECRET_KEY_ENV = "STREAMBENCH_S3_SECRET_KEY"
# Environment that would steer boto3 away from the endpoint it is given, or make
# it read the user's files: removed from the client's environment.
_STEERING_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CA_BUNDLE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_REQUEST_CHECKSUM_CALCULATION",
    "AWS_RESPONSE_CHECKSUM_VALIDATION",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def client_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a client process: AWS lookups off, nothing steering it elsewhere."""
    env = dict(os.environ if base is None else base)
    for name in _STEERING_ENV:
        env.pop(name, None)
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_DEFAULT_REGION": REGION,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def make_client(endpoint: str, access_key: str, secret_key: str) -> S3Client:
    """A boto3 S3 client bound to ``endpoint`` alone: explicit keys, path-style, fixed settings."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=120,
        proxies={},
        # Pinned to botocore's default, so an environment variable cannot change what is measured.
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def upload(
    client: S3Client, method: str, path: str, bucket: str, key: str, part_bytes: int, concurrency: int
) -> str | None:
    """Upload ``path`` to ``bucket/key`` by ``method``; returns the ETag the server answered."""
    if method == "upload_fileobj":
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(
            multipart_threshold=part_bytes,
            multipart_chunksize=part_bytes,
            max_concurrency=concurrency,
            use_threads=concurrency > 1,
        )
        with open(path, "rb") as f:
            client.upload_fileobj(f, bucket, key, Config=transfer)
        return None  # s3transfer returns nothing; the harness checks the stored bytes
    if method == "put_object_bytes":
        with open(path, "rb") as f:
            body = f.read()
        response = client.put_object(Bucket=bucket, Key=key, Body=body)
        return str(response.get("ETag"))
    if method == "put_object_file":
        with open(path, "rb") as f:
            response = client.put_object(Bucket=bucket, Key=key, Body=f)
        return str(response.get("ETag"))
    raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.s3.client_child", description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--bucket", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--file", required=True, help="the file to upload")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--part-size", type=int, default=8 << 20, help="multipart part size, bytes")
    p.add_argument("--concurrency", type=int, default=4, help="upload_fileobj's max_concurrency")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from streambench.harness.common.lifeline import die_with_parent

    die_with_parent()
    # The parent already passes client_env(); applied again so a hand-run client is as tight.
    env = client_env()
    os.environ.clear()
    os.environ.update(env)
    # The keys come in the environment, not on the command line (where ps shows them).
    access_key = os.environ.get(ACCESS_KEY_ENV, "")
    secret_key = os.environ.get(SECRET_KEY_ENV, "")

    # Imported here, not at the top: the harness imports this module for its names only.
    import boto3
    import boto3.s3.transfer
    import botocore

    from streambench.harness.measure.measured import MeasuredSection

    client = make_client(args.endpoint, access_key, secret_key)
    size_bytes = os.path.getsize(args.file)
    # One small request first: botocore loads its endpoint rules, signer and checksum code
    # lazily on the first call, and that belongs to the setup, not to the upload.
    try:
        client.list_buckets()
    except Exception as exc:
        sys.stdout.write(json.dumps({"event": "report", "outcome": "error", "error": f"setup: {exc}"}) + "\n")
        return 0
    # Setup done (imports, the service model, the client): from here on the peak is the upload's.
    section = MeasuredSection(sample_interval_s=RSS_SAMPLE_INTERVAL_S, include_children=False)
    outcome, error, etag = "ok", None, None
    section.start()
    try:
        etag = upload(client, args.method, args.file, args.bucket, args.key, args.part_size, args.concurrency)
    except Exception as exc:  # the server refused, a connection dropped: a measured outcome
        outcome, error = "error", f"{type(exc).__name__}: {exc}"
    section.stop()
    figures = section.figures()
    report = {
        "event": "report",
        "method": args.method,
        "outcome": outcome,
        "error": error,
        "bytes": size_bytes if outcome == "ok" else 0,
        "file_bytes": size_bytes,
        # The measured section's figures under the contract's keys (harness.measure.report).
        "section": figures,
        "rss_anon_samples": section.sampler.samples if section.sampler is not None else 0,
        "part_bytes": args.part_size if args.method == "upload_fileobj" else None,
        "concurrency": args.concurrency if args.method == "upload_fileobj" else 1,
        "etag": etag,
        "boto3_version": boto3.__version__,
        "botocore_version": botocore.__version__,
    }
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
