"""Starts the real local server the way `make run` does and uses it over HTTP."""

from __future__ import annotations

import http.client
import io
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.e2e.processes import drain, embedded_server_pid, exited, kill_if_running, read_until
from tests.local_server import ROOT, chalice_local, free_port, local_env, running_local_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_local_server(tmp_path_factory.mktemp("e2e-data"), seed_per_style=2) as running:
        yield running.base


def test_styles_gallery_and_a_generated_avatar_over_http(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        styles = http.get("/v1/styles").json()["styles"]
        assert len(styles) >= 8
        gallery = http.get("/v1/gallery", params={"style": styles[0]["id"], "limit": 5}).json()
        assert len(gallery["items"]) == 2
        thumb = http.get(gallery["items"][0]["images"]["128"])
        assert thumb.status_code == 200
        assert Image.open(io.BytesIO(thumb.content)).size == (128, 128)

        response = http.post("/v1/generations", json={"style": "anime", "prompt": "a fox in a hoodie"})
        assert response.status_code == 200, response.text
        generation = response.json()
        assert generation["status"] == "succeeded"
        assert set(generation["images"]) == {"128", "256", "512"}
        for size, url in generation["images"].items():
            assert url.startswith(server)
            image_response = http.get(url)
            assert image_response.headers["content-type"] == "image/webp"
            assert "immutable" in image_response.headers["cache-control"]
            image = Image.open(io.BytesIO(image_response.content))
            assert image.format == "WEBP"
            assert image.size == (int(size), int(size))
            image.load()

        again = http.get(f"/v1/generations/{generation['id']}")
        assert again.json()["id"] == generation["id"]
        redirect = http.get("/v1/avatars/someone", follow_redirects=False)
        assert redirect.status_code == 302


def test_async_generation_is_finished_by_the_in_process_worker(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        accepted = http.post(
            "/v1/generations", json={"style": "pixel", "variation": 9}, headers={"Prefer": "respond-async"}
        )
        assert accepted.status_code == 202
        location = accepted.headers["location"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = http.get(location).json()
            if body["status"] == "succeeded":
                break
            time.sleep(0.2)
        assert body["status"] == "succeeded"


def test_bad_input_over_http_is_4xx_json(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        response = http.post(
            "/v1/generations", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_request"
        assert http.get("/v1/gallery", params={"limit": 1000}).status_code == 400


def test_sigterm_stops_the_server_and_its_embedded_redis(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        chalice_local(port),
        cwd=ROOT,
        env={**local_env(base, data_dir, 1), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    redis_pid = 0
    try:
        assert process.stdout is not None
        read_until(process.stdout, b"Serving on", timeout=60)  # listening
        drain(process.stdout)
        # Concurrent requests: several store connections are open when the signal comes.
        with httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(
                    lambda v: (
                        http.post(
                            "/v1/generations",
                            json={"style": "flat", "variation": v},
                            headers={"Prefer": "respond-async"},
                        ).status_code
                    ),
                    range(4),
                )
            )
        assert all(s < 500 for s in statuses), statuses  # answered (anonymous quota may refuse some)
        redis_pid = embedded_server_pid(data_dir)
        assert redis_pid and not exited(redis_pid, 0)

        process.send_signal(signal.SIGTERM)  # what systemd, docker, supervisord and IDEs send
        assert process.wait(timeout=30) == 0
        assert exited(redis_pid, 10), "the embedded redis-server outlived the server"
    finally:
        process.kill()
        process.wait(timeout=10)
        kill_if_running(redis_pid or embedded_server_pid(data_dir))  # a failure before it was read


def connection(server: str) -> http.client.HTTPConnection:
    """A raw HTTP/1.1 connection (keep-alive) to the server: what a browser or a proxy reuses."""
    parts = urlsplit(server)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)


def test_a_head_answer_has_no_body_and_the_connection_serves_the_next_request(server: str) -> None:
    conn = connection(server)
    try:
        for path in ("/v1/files/img/nope.webp", "/v1/files/img/../x", "/v1/styles", "/v1/no-such-route"):
            conn.request("HEAD", path)
            head = conn.getresponse()
            assert head.read() == b""
            assert head.status in (404, 405), (path, head.status)
            # The same connection answers the next request whole: no left-over body is read as
            # the start of its answer.
            conn.request("GET", "/v1/health")
            after = conn.getresponse()
            assert after.status == 200, path
            assert json.loads(after.read())["status"] in ("ok", "degraded")
        conn.request("GET", "/v1/gallery?limit=1")
        thumb = json.loads(conn.getresponse().read())["items"][0]["images"]["128"]
        conn.request("HEAD", urlsplit(thumb).path)
        found = conn.getresponse()
        assert (found.status, found.read()) == (200, b"")
        assert found.getheader("Content-Type") == "image/webp" and found.getheader("ETag")
        conn.request("GET", urlsplit(thumb).path)  # no Accept header: any media type (RFC 9110)
        image = conn.getresponse()
        data = image.read()
        assert image.status == 200 and image.getheader("Content-Type") == "image/webp"
        assert found.getheader("Content-Length") == str(len(data)) != "0"  # the GET's length
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["TRACE", "PATCH", "QUERY", "DELETE"])
def test_a_method_a_route_lacks_is_405_with_allow_in_the_error_shape(server: str, method: str) -> None:
    conn = connection(server)
    try:
        for path, allowed in (
            ("/v1/styles", {"GET", "OPTIONS"}),
            ("/v1/files/img/a.webp", {"GET", "HEAD", "OPTIONS"}),
        ):
            conn.request(method, path)
            answer = conn.getresponse()
            body = json.loads(answer.read())
            assert answer.status == 405, (method, path, answer.status)
            assert {m.strip() for m in answer.getheader("Allow", "").split(",")} == allowed
            assert answer.getheader("Content-Type") == "application/json"
            assert body["error"]["code"] == "invalid_request"
            assert method in body["error"]["message"] or "not allowed" in body["error"]["message"]
        conn.request("GET", "/v1/health")  # the connection still serves
        assert conn.getresponse().status == 200
    finally:
        conn.close()
