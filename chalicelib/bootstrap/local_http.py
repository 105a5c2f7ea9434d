"""The local stage's HTTP server: ``chalice local``'s request handler, keeping HTTP's rules.

``chalice local`` (``make run``, and ``stack/api.py`` behind the stack's front) serves the app with
Python's ``http.server``. Two of its answers break HTTP:

- a ``HEAD`` answer carries the body its ``GET`` would (a 404's JSON error, say) after headers that
  announce it: the client reads no body for a HEAD, so the bytes left on a keep-alive connection
  are taken for the next answer's start, and that answer is lost;
- a method ``http.server`` has no ``do_<METHOD>`` for (``TRACE``, ``QUERY``, ...) answers its own
  HTML 501 before the app sees the request, where a route that lacks the method must answer 405
  with ``Allow`` (as every other method does) in the contract's error shape.

:class:`HttpHandler` fixes both: a HEAD answer sends the headers only (its ``Content-Length`` the
body's, as the GET would), and every method reaches the app, whose router answers 405 with
``Allow`` (``api/middleware.py`` gives it the contract's error shape). A path no route matches
answers 404 in the contract's shape, as the deployed gateway does (not chalice's bare 403), and a
request without ``Accept`` accepts any media type (RFC 9110), an image included.
Production is API Gateway, which does all of this itself.
"""

from __future__ import annotations

from typing import Any

from chalice import local

UNKNOWN_ROUTE = b'{"error": {"code": "not_found", "message": "No such route."}}'


class HttpHandler(local.ChaliceRequestHandler):
    """``chalice local``'s request handler with HEAD answers that carry no body, and every
    method handed to the app (see the module docstring)."""

    def __getattr__(self, name: str) -> Any:  # Any: the base class is untyped to mypy
        # http.server looks up do_<METHOD> and answers 501 where there is none: hand every method
        # to the app instead, whose router knows which methods each route has.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._generic_handle
        raise AttributeError(name)

    def _parse_payload(self) -> Any:
        headers, body = super()._parse_payload()
        if not any(name.lower() == "accept" for name in headers):
            # RFC 9110 (12.5.1): no Accept means any media type. Chalice would refuse an image
            # to such a request (it wants an Accept naming a binary type, as API Gateway does).
            headers["Accept"] = "*/*"
        return headers, body

    def _send_error_response(self, error: Any) -> None:
        if isinstance(error, local.ForbiddenError):
            # No route matches the path (chalice answers API Gateway's bare 403 "Missing
            # Authentication Token"): the deployed gateway answers 404 in the contract's shape
            # (UnknownRouteResponse in infra/cloudformation/resources.yml), and so does this.
            self._send_http_response(404, {"Content-Type": "application/json"}, UNKNOWN_ROUTE)
            return
        super()._send_error_response(error)

    def _send_http_response_with_body(self, code: int, headers: Any, body: str | bytes) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        length = _pop_header(headers, "Content-Length") or str(len(data))
        self.send_response(code)
        self.send_header("Content-Length", length)  # what the GET's body would be
        self.send_header("Content-Type", _pop_header(headers, "Content-Type") or "application/json")
        self._send_headers(headers)  # ends the headers; no body follows a HEAD answer


class HttpDevServer(local.LocalDevServer):
    """``chalice local``'s server with :class:`HttpHandler`."""

    def __init__(
        self,
        app_object: Any,
        config: Any,
        host: str,
        port: int,
        *,
        handler_cls: Any = HttpHandler,
        server_cls: Any = local.ThreadedHTTPServer,
    ) -> None:
        super().__init__(app_object, config, host, port, handler_cls=handler_cls, server_cls=server_cls)


def use_http_handler() -> None:
    """Make ``chalice local`` serve with :class:`HttpHandler`: it builds its server by the name
    ``chalice.local.LocalDevServer`` when it starts, after importing the app (which calls this)."""
    local.LocalDevServer = HttpDevServer  # type: ignore[misc,assignment]


def _pop_header(headers: dict[str, Any], name: str) -> str | None:
    for key in list(headers):
        if key.lower() == name.lower():
            value = headers.pop(key)
            return str(value[0] if isinstance(value, list) else value)
    return None
