"""The photo-checks function's SQS queue: the API hands it each arrived upload (production; the
checks' detectors live in that function's own package, not in the API's, see docs/photos.md)."""

from __future__ import annotations

import json

from chalicelib.adapters.aws import LazyAwsClient
from chalicelib.adapters.queue.sqs import region_of
from chalicelib.ports.queue import QueueError


def photo_message(upload_id: str) -> str:
    return json.dumps({"upload": upload_id}, separators=(",", ":"))


def parse_photo_message(body: str) -> str | None:
    """The upload id of a message, None if it is not one of ours."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    upload = data.get("upload") if isinstance(data, dict) else None
    return upload if isinstance(upload, str) else None


class SqsPhotoChecks:
    """:class:`chalicelib.ports.photos.PhotoCheckQueue` on SQS."""

    def __init__(self, queue_url: str, *, client: object = None) -> None:
        self._url = queue_url
        self._aws = LazyAwsClient(
            "sqs",
            region=region_of(queue_url),
            connect_timeout=2,
            read_timeout=5,
            max_attempts=3,
            client=client,
        )

    def request_check(self, upload_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._aws.get().send_message(QueueUrl=self._url, MessageBody=photo_message(upload_id))
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"SQS send to the photo checks failed: {type(exc).__name__}") from None
