"""One API process of the stack: the Chalice app behind Chalice's local API Gateway emulation.

``python -m stack.api --stage dev`` builds the app's container at once (a warm Lambda container)
and serves on a free 127.0.0.1 port; prints ``STACK-READY {"url", "pid"}``. The environment
(``UPSTASH_*``, ``R2_*``, ``AVATARFLOW_QUEUE_URL_*``, ...) is set by the supervisor, so the app
runs its production adapters. SIGTERM ends it; SIGKILL (the spike's crash) ends it mid-request.

Unlike an API Lambda (one request per container at a time) a process serves requests on threads:
several of them are several warm containers in one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from chalice.local import ThreadedHTTPServer

from stack.declarations import CHALICE_CONFIG, ROOT
from stack.processes import announce_ready


class _Server(ThreadedHTTPServer):
    request_queue_size = 256  # the default 5 drops connections under a burst (SYN retried after 1 s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.api", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default=os.environ.get("AVATARFLOW_STAGE", "dev"))
    args = parser.parse_args(argv)
    from chalice.config import Config
    from chalice.local import CustomLocalChalice, LocalChalice

    import app as app_module
    from chalicelib.bootstrap import get_container
    from chalicelib.bootstrap.local_http import HttpDevServer

    config = Config(
        chalice_stage=args.stage,
        config_from_disk=json.loads(CHALICE_CONFIG.read_text()),
        default_params={"project_dir": str(ROOT)},
    )
    # What chalice.local.create_local_server does, with a server that takes a burst's connections.
    CustomLocalChalice.__bases__ = (LocalChalice, app_module.app.__class__)
    app_module.app.__class__ = CustomLocalChalice
    server = HttpDevServer(app_module.app, config, "127.0.0.1", 0, server_cls=_Server)
    get_container()  # warm: the first request does not pay the container's build
    thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
    thread.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    announce_ready(url=f"http://127.0.0.1:{server.server.server_address[1]}", pid=os.getpid())
    stop.wait()
    server.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
