"""The stack's AWS side: moto in server mode as the SQS endpoint and the S3 endpoint standing in for R2.

``python -m stack.aws --plan PLAN.json`` serves moto on 127.0.0.1 (a free port), creates the image
bucket and every lane queue with its DLQ as the plan (``stack/declarations.py``) says, and prints
``STACK-READY {"endpoint", "queues": {lane: {"url", "dlq_url"}}}``. Every request is counted by
service and action; ``GET /_stack/stats`` answers the counts (not an AWS endpoint).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stack.processes import announce_ready

REGION = "us-east-1"
ACCESS_KEY = "stack-access-key"
SECRET_KEY = "stack-secret-key"  # noqa: S105 - moto accepts any credentials
STATS_PATH = "/_stack/stats"

StartResponse = Callable[..., Any]


class CountingApp:
    """WSGI middleware: counts each request by service and action before moto answers it."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            with self._lock:
                body = json.dumps({"requests": dict(self.counts)}).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AmazonSQS."):
            key = "sqs:" + target.split(".", 1)[1]
        elif "Action=" in environ.get("QUERY_STRING", ""):
            key = "sqs:" + environ["QUERY_STRING"].split("Action=", 1)[1].split("&", 1)[0]
        else:
            key = f"s3:{environ.get('REQUEST_METHOD', '?')}"
        with self._lock:
            self.counts[key] += 1
        return self._app(environ, start_response)


def create_resources(endpoint: str, plan: dict[str, Any], visibility_timeout: int | None) -> dict[str, Any]:
    """The bucket and every lane queue with its DLQ and redrive policy, as declared."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=plan["bucket"])
    sqs = session.client("sqs", endpoint_url=endpoint)
    queues: dict[str, Any] = {}
    for lane in plan["lanes"]:
        dlq_url = sqs.create_queue(
            QueueName=lane["dlq_name"], Attributes={"MessageRetentionPeriod": "1209600"}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        visibility = lane["visibility_timeout_s"] if visibility_timeout is None else visibility_timeout
        url = sqs.create_queue(
            QueueName=lane["queue_name"],
            Attributes={
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(lane["retention_s"]),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(lane["max_receive_count"])}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[lane["lane"]] = {
            "url": url,
            "arn": arn,
            "dlq_url": dlq_url,
            "visibility_timeout_s": visibility,
        }
    return queues


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.aws", description=__doc__.split("\n")[0])
    parser.add_argument("--plan", type=Path, required=True, help="the declarations, as JSON")
    parser.add_argument("--visibility-timeout", type=int, default=None, help="override the declared one")
    args = parser.parse_args(argv)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (the counts are kept)
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    thread.start()
    plan = json.loads(args.plan.read_text())
    queues = create_resources(endpoint, plan, args.visibility_timeout)
    with app._lock:
        app.counts.clear()  # count what the stack does, not its setup
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(endpoint=endpoint, region=REGION, bucket=plan["bucket"], queues=queues)
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
