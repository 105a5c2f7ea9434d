"""The environment of the stack's processes: the developer's own accounts scrubbed from it, and the
app's (the SAM ``Globals``' counterpart): the stage's variables, then every production adapter
pointed at its part of the stack."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from stack.declarations import ROOT, StackDeclarations

# Nothing of the developer's own accounts reaches the stack's processes.
SCRUBBED_PREFIXES = ("AVATARFLOW_", "UPSTASH_", "R2_", "AWS_", "FAL_", "REPLICATE_", "TOGETHER_", "RUNPOD_",
                     "OPENAI_", "HF_", "PEXELS_", "GENERATED_PHOTOS_", "UNSPLASH_")  # fmt: skip


def base_env() -> dict[str, str]:
    """This process's environment without the developer's accounts, for running our own modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return env


def app_env(
    declarations: StackDeclarations,
    *,
    data_dir: Path,
    log_level: str,
    jwt_secret: str,
    admin_token: str,
    apigw_endpoint: str,
    store: dict[str, Any],
    aws: dict[str, Any],
    providers: dict[str, Any],
    front_url: str,
    overrides: list[str],
) -> dict[str, str]:
    """The app's environment: the stage's own variables, then every production adapter on the stack
    (``store``, ``aws``, ``providers``: those parts' STACK-READY info), then ``overrides``
    (``NAME=VALUE``, the ``--env`` options)."""
    from stack.aws import ACCESS_KEY, SECRET_KEY

    d = declarations
    endpoint, bucket = aws["endpoint"], aws["bucket"]
    env = base_env()
    env.update(d.stage_environment)
    env.update(
        {
            "AVATARFLOW_STAGE": d.stage,
            "AVATARFLOW_DATA_DIR": str(data_dir),
            "AVATARFLOW_LOG_LEVEL": log_level,
            "AVATARFLOW_PUBLIC_URL": front_url,
            "AVATARFLOW_CORS_ORIGINS": "*",
            "AVATARFLOW_JWT_SECRET": jwt_secret,
            "AVATARFLOW_ADMIN_TOKEN": admin_token,
            "AVATARFLOW_API_KEY_PEPPER": secrets.token_urlsafe(32),
            "AVATARFLOW_WEBSOCKET_URL": apigw_endpoint.replace("http://", "ws://", 1),
            "UPSTASH_REDIS_REST_URL": store["url"],
            "UPSTASH_REDIS_REST_TOKEN": store["token"],
            "R2_ENDPOINT_URL": endpoint,
            "R2_BUCKET": bucket,
            "R2_PUBLIC_BASE_URL": aws["public_url"],  # the bucket's public domain (stack/aws.py)
            "R2_ACCESS_KEY_ID": ACCESS_KEY,
            "R2_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": aws["region"],
            "AWS_ENDPOINT_URL_SQS": endpoint,  # boto3's per-service endpoint: the queue URLs' host
            # AWS S3 (the photos' bucket, reached on the role: boto3's default chain) is moto too.
            "AWS_ENDPOINT_URL_S3": endpoint,
            "FAL_KEY": providers["fal_key"],
            "FAL_BASE_URL": providers["fal_base_url"],
            "FAL_QUEUE_BASE_URL": providers["fal_queue_base_url"],
            "FAL_JWKS_URL": providers["fal_jwks_url"],
            "REPLICATE_API_TOKEN": providers["replicate_token"],
            "REPLICATE_BASE_URL": providers["replicate_base_url"],
            "REPLICATE_WEBHOOK_SECRET": providers["replicate_webhook_secret"],
            "OPENAI_API_KEY": providers["openai_key"],
            "OPENAI_BASE_URL": providers["openai_base_url"],
            "TOGETHER_API_KEY": providers["together_key"],
            "TOGETHER_BASE_URL": providers["together_base_url"],
            "HF_TOKEN": providers["hf_token"],
            "HF_BASE_URL": providers["hf_base_url"],
        }
    )
    if d.lane_max_receives is not None:
        env["AVATARFLOW_LANE_MAX_RECEIVES"] = str(d.lane_max_receives)
    for lane in (*d.lanes, *d.functions):  # the photo checks' queue too: no check in the API
        env[lane.url_env] = aws["queues"][lane.lane]["url"]
    env.update(aws.get("buckets", {}))  # AVATARFLOW_PHOTOS_BUCKET
    for item in overrides:
        name, _, value = item.partition("=")
        env[name] = value
    return env
