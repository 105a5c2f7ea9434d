"""The avatarflow Chalice app: registers blueprints and middleware; nothing else."""

from __future__ import annotations

from chalice.app import Chalice

from chalicelib.api.middleware import http_middleware
from chalicelib.api.preflight import add_preflight_routes
from chalicelib.api.public import public
from chalicelib.api.users import users
from chalicelib.logs import configure_logging

configure_logging()

app = Chalice(app_name="avatarflow")
app.api.binary_types = ["image/webp", "image/png", "image/jpeg"]
app.register_blueprint(public)
app.register_blueprint(users)
app.register_middleware(http_middleware, "http")
add_preflight_routes(app)
