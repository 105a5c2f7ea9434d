"""The avatarflow Chalice app: registers blueprints, middleware and the WebSocket handlers; nothing else."""

from __future__ import annotations

import os

from chalice.app import Chalice

from chalicelib.api.admin import admin
from chalicelib.api.admin_gallery import admin_gallery
from chalicelib.api.audit import audit_middleware
from chalicelib.api.batches import batches
from chalicelib.api.dev import dev
from chalicelib.api.events import events
from chalicelib.api.middleware import http_middleware
from chalicelib.api.pages import pages
from chalicelib.api.preflight import add_preflight_routes
from chalicelib.api.public import public
from chalicelib.api.realtime import realtime, register_websocket_handlers
from chalicelib.api.uploads import uploads
from chalicelib.api.users import users
from chalicelib.api.webhooks import webhooks
from chalicelib.bootstrap import collect_rarely_while_starting, warm_start_if_asked
from chalicelib.observability.logs import configure_logging
from chalicelib.workers.gallery_schedule import gallery_schedule
from chalicelib.workers.lanes import lanes
from chalicelib.workers.reaper import reaper
from chalicelib.workers.schedules import schedules

# We use no pydantic plugins: skip pydantic's scan of every installed package's entry points when
# it builds its first model (a few ms of each cold start). Set in the environment to override.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
collect_rarely_while_starting()  # until the container is built (bootstrap.get_container)
configure_logging()
if os.environ.get("AVATARFLOW_STAGE") == "local":
    # `chalice local` (`make run`) sets it from .chalice/config.json; Lambda and the tests do not.
    from chalicelib.bootstrap.local import exit_on_sigterm
    from chalicelib.bootstrap.local_http import use_http_handler

    exit_on_sigterm()
    use_http_handler()  # HEAD answers without a body, 405 + Allow for every method a route lacks

# configure_logs=False: Chalice would take over the "avatarflow" logger (level ERROR, a second handler).
app = Chalice(app_name="avatarflow", configure_logs=False)
# multipart/form-data: the local stage's photo upload form arrives as raw bytes.
app.api.binary_types = ["image/webp", "image/png", "image/jpeg", "multipart/form-data"]
app.register_blueprint(public)
app.register_blueprint(users)
app.register_blueprint(events)
app.register_blueprint(uploads)
app.register_middleware(http_middleware, "http")
app.register_middleware(audit_middleware, "http")  # inside http_middleware: it sees the request id
app.register_blueprint(admin_gallery)
app.register_blueprint(gallery_schedule)
app.register_blueprint(batches)
app.register_blueprint(webhooks)
app.register_blueprint(lanes)
app.register_blueprint(reaper)
app.register_blueprint(admin)
app.register_blueprint(schedules)
app.register_blueprint(dev)
app.register_blueprint(pages)
app.register_blueprint(realtime)
# API Gateway's WebSocket API: each name is the Lambda handler string Chalice gives it (app.<name>).
ws_connect, ws_message, ws_disconnect = register_websocket_handlers(app)
add_preflight_routes(app)
warm_start_if_asked()  # make run: the local WebSocket server listens before the first request
