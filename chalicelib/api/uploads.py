"""Photo routes: ``POST /v1/uploads`` (a presigned form upload), ``GET /v1/uploads/{id}`` (what
became of it), and the local stage's own upload form and presigned reads (``/v1/local-uploads``:
404 in every stage that uploads straight to R2/S3)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.api.http import caller, json_response, parse_body, query
from chalicelib.api.routing import ApiBlueprint
from chalicelib.bootstrap import get_container
from chalicelib.domain.errors import InvalidRequest, NotFound, PayloadTooLarge, UnsupportedMediaType

uploads = ApiBlueprint(__name__)

# The form's own fields (a few hundred bytes) around a file of at most 10 MiB.
MAX_FORM_BYTES = 10 * 1024 * 1024 + 64 * 1024


@uploads.route("/v1/uploads", methods=["POST"])
def create_upload() -> Response:
    from chalicelib.schemas.uploads import UploadRequest

    request = uploads.current_request
    identity = caller(request)
    body = parse_body(request, UploadRequest)
    ticket = get_container().photos.create(identity, body)
    return json_response(ticket, 201, {"Cache-Control": "no-store"})


@uploads.route("/v1/uploads/{upload_id}", methods=["GET"])
def get_upload(upload_id: str) -> Response:
    identity = caller(uploads.current_request)
    return json_response(
        get_container().photos.read(identity, upload_id), headers={"Cache-Control": "no-store"}
    )


@uploads.route("/v1/local-uploads", methods=["POST"], content_types=["multipart/form-data"])
def local_upload() -> Response:
    """The local stage's stand-in for the object store's presigned POST (answers 204 as S3 does)."""
    receive = get_container().photos.receive
    if receive is None:
        raise NotFound("No such route.")
    request = uploads.current_request
    body = request.raw_body or b""
    raw = body.encode("latin-1", "replace") if isinstance(body, str) else body
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLarge("The upload is larger than 10 MiB.")
    fields, file = parse_form(request.headers.get("content-type", ""), raw)
    receive(fields, file)
    return Response(body="", status_code=204)


@uploads.route("/v1/local-uploads/{photo_name}", methods=["GET"])
def local_upload_read(photo_name: str) -> Response:
    """The local stage's presigned GET of a photo (what a provider would fetch)."""
    receive = get_container().photos.receive
    if receive is None:
        raise NotFound("No such route.")
    params = query(uploads.current_request)
    data = receive.read(photo_name, params.get("expires", ""), params.get("signature", ""))
    return Response(
        body=data, status_code=200, headers={"Content-Type": "image/jpeg", "Cache-Control": "no-store"}
    )


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """The text fields and the ``file`` of a ``multipart/form-data`` body (stdlib parser)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise UnsupportedMediaType("Send the upload as multipart/form-data.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidRequest("The form has no parts.")
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            file = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    if file is None:
        raise InvalidRequest("The form has no file field.")
    return fields, file
