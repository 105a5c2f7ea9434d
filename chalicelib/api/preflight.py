"""CORS preflight: an ``OPTIONS`` answer on every browser-facing route."""

from __future__ import annotations

from chalice.app import Chalice, Response


def _preflight(**_path_params: str) -> Response:
    # The CORS headers themselves are added by the HTTP middleware, from the configured origins.
    # Chalice passes a route's path parameters ({generation_id}, ...) as keyword arguments.
    return Response(body="", status_code=204)


def add_preflight_routes(app: Chalice) -> None:
    for path, methods in list(app.routes.items()):
        if "OPTIONS" not in methods:
            app.route(path, methods=["OPTIONS"], name=f"preflight_{len(app.routes)}")(_preflight)
