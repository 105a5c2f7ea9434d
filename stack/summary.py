"""What the stack tells about itself: its state (the parts, their pids and URLs, the run's secrets),
written to the state file (``--state-file``, read by ``stack.running`` and the tests) and printed
as the summary at start."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stack.supervisor import Stack


def state(stack: Stack) -> dict[str, Any]:
    """The state file's document: every part, its pid, readiness, restarts, URL and log."""
    info = {c.name: c.info for c in stack.children}
    return {
        "dir": str(stack.dir),
        "stage": stack.declarations.stage,
        "front": info["front"]["url"],
        "upstash": {**info["state-store"], "redis_pid": stack.child("redis-server").pid},
        "aws": info["aws"],
        "providers": info["providers"],
        "apigw": stack.apigw.endpoint if stack.apigw is not None else None,
        "jwt_secret": stack.jwt_secret,
        "admin_token": stack.admin_token,
        "key_prefix": stack.env.get("AVATARFLOW_KEY_PREFIX", "af:"),
        "supervisor_pid": os.getpid(),
        "processes": [
            {
                "name": c.name,
                "pid": c.pid,
                "ready": c.ready.is_set(),
                "restarts": c.restarts,
                "url": c.info.get("url"),
                "log": str(c.log_path),
            }
            for c in stack.children
        ],
    }


def write_state(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(path)  # atomic: a reader never sees half a file


def describe(s: dict[str, Any]) -> str:
    """The summary printed once the stack is up: where each part listens, the secrets, the pids."""
    lines = [
        f"avatarflow stack (stage {s['stage']}) in {s['dir']}",
        f"  API (round-robin front) {s['front']}",
        f"  Upstash REST            {s['upstash']['url']}  (token {s['upstash']['token']})",
        f"  redis-server            unix:{s['upstash']['redis_socket']}  (append-only file)",
        f"  SQS + S3 (moto)         {s['aws']['endpoint']}  bucket {s['aws']['bucket']}",
        f"  the bucket, public      {s['aws']['public_url']}  (R2_PUBLIC_BASE_URL)",
    ]
    for env_name, bucket in s["aws"].get("buckets", {}).items():
        lines.append(f"  {env_name:<23} {bucket}  (private, on moto's S3)")
    for lane, queue in s["aws"]["queues"].items():
        lines.append(
            f"    queue {lane:<9} {queue['url']}  (DLQ {queue['dlq_url'].rsplit('/', 1)[1]}, "
            f"visibility {queue['visibility_timeout_s']} s)"
        )
    lines += [
        f"  fal stand-in            {s['providers']['fal_queue_base_url']}",
        f"  Replicate stand-in      {s['providers']['replicate_base_url']}",
        f"  OpenAI stand-in         {s['providers']['openai_base_url']}",
        f"  Together stand-in       {s['providers']['together_base_url']}",
        f"  API Gateway mgmt API    {s['apigw']}",
        f"  JWT secret (HS256)      {s['jwt_secret']}",
        f"  admin token             {s['admin_token']}",
    ]
    for p in s["processes"]:
        where = f"  {p['url']}" if p.get("url") else ""
        lines.append(f"  pid {p['pid']:>7}  {p['name']}{where}  log {p['log']}")
    return "\n".join(lines)
