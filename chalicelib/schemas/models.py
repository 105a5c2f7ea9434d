"""Pydantic models of the request and response bodies of the contract (the operators' and the
local stage's own: ``schemas/admin.py``).

The handlers validate with these and the OpenAPI document is generated from them, so the two
cannot drift apart: what a validator checks, the schema states (the style list, the https callback,
printable text, exactly one avatar source), from the same constants.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.generation_transitions import Status  # the entity's states, one definition
from chalicelib.domain.styles import STYLES
from chalicelib.domain.text import PROMPT_CONTROLS, first_forbidden
from chalicelib.schemas.fields import HTTPS_URL_PATTERN, JsonInt, exactly_one, https_url, printable

Quality = Literal["fast", "standard", "pro"]
Lane = Literal["enterprise", "premium", "free", "batch"]
Source = Literal["pexels", "generated_photos", "unsplash", "ai", "procedural"]

MAX_PROMPT_CHARS = 300
STYLE_IDS: tuple[str, ...] = tuple(style.id for style in STYLES)


class ApiModel(BaseModel):
    """The base of every API body model."""

    # Each model's validator and serializer are built on its first use, not at import: a Lambda
    # container builds the two or three a request needs, not all fifty (the cold start).
    model_config = ConfigDict(defer_build=True)


class StrictModel(ApiModel):
    """A request body: unknown fields refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GenerationRequest(StrictModel):
    """What a client asks for in ``POST /v1/generations``."""

    style: str = Field(
        min_length=1,
        max_length=64,
        description="A style id from GET /v1/styles.",
        json_schema_extra={"enum": list(STYLE_IDS)},
    )
    prompt: str = Field(
        "",
        max_length=MAX_PROMPT_CHARS,
        description="Optional subject description: printable text (tabs and line breaks allowed).",
        json_schema_extra=printable(PROMPT_CONTROLS),
    )
    variation: JsonInt = Field(0, ge=0, le=999, description="Pick another take on the same request.")
    size: Literal[512, 1024] = Field(512, description="Largest edge in pixels of the largest image.")
    quality: Quality = "fast"
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description="https URL called when the generation ends (enterprise only).",
        json_schema_extra={"pattern": HTTPS_URL_PATTERN},
    )
    accept_similar: bool = Field(
        False,
        description="Serve a close enough cached result of a similar prompt (same style, quality and "
        "size) at once, as a cache hit, uncharged, instead of generating.",
    )
    photo: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A ready upload of the caller's (POST /v1/uploads): a stylised avatar of the person in "
        "the photo. Signed-in users and API keys only; never cached, shared or offered as similar.",
    )
    likeness: float | None = Field(
        None,
        ge=0,
        le=1,
        description="With a photo: how closely the avatar keeps the face (0..1, default 0.8).",
    )

    @field_validator("prompt")
    @classmethod
    def _printable_prompt(cls, value: str) -> str:
        # domain/text.py: control, private-use and unassigned characters have no place in a prompt.
        if first_forbidden(value, PROMPT_CONTROLS) is not None:
            raise ValueError("prompt contains control or unassigned characters")
        return value

    _https_callback = field_validator("callback_url")(https_url)


ImageSet = dict[str, str]


class ErrorInfo(ApiModel):
    code: str
    message: str


class Progress(ApiModel):
    """How far an open generation has come (``null`` once it ended)."""

    phase: Literal["queued", "starting", "generating", "storing"]
    percent: float | None = Field(
        ge=0, le=100, description="The provider's own figure where it gives one, else an estimate."
    )
    queue_position: int | None = Field(description="1 = next in its lane, where known.")
    message: str = Field(description='Ready to show, e.g. "Creating your unique avatar… about 5 s".')


def _string_when_present(schema: dict[str, Any]) -> None:
    """A field left out when it has no value is, where present, a plain string (never null)."""
    schema.pop("anyOf", None)
    schema.pop("default", None)
    schema["type"] = "string"


class SimilarImage(ApiModel):
    """A cached result of a similar request, offered as an instant choice."""

    id: str = Field(description="The cached result's id (sim_...).")
    images: ImageSet
    score: float = Field(
        ge=0, le=1, description="How close its prompt is to the request's (1 = the same words)."
    )
    # A prompt can hold a name or an address: another user's words are never shown.
    prompt: str | None = Field(
        None,
        description="The prompt it was made for: present only when it was made for the caller's own "
        "request (another user's words are never shown).",
        exclude_if=lambda value: value is None,
        json_schema_extra=_string_when_present,
    )


class Generation(ApiModel):
    id: str
    status: Status
    style: str
    prompt: str
    variation: int
    size: int
    quality: Quality
    cached: bool
    images: ImageSet | None = Field(description='Keys "128", "256", "512" and "1024" when asked.')
    provider: str | None
    error: ErrorInfo | None
    lane: Lane
    eta_seconds: float | None
    progress: Progress | None = None
    similar: list[SimilarImage] = Field(
        description="Up to 3 cached results of similar requests (same style, quality and size, close "
        "prompt), best first, offered as an instant choice by POST /v1/generations; may be empty "
        "(always empty when read back later). An item carries its prompt only when it was made for "
        "the caller's own request.",
    )
    photo: str | None = Field(None, description="The upload a photo generation was made from.")
    created_at: str
    completed_at: str | None


class GenerationPage(ApiModel):
    items: list[Generation]
    next_cursor: str | None


class StyleOut(ApiModel):
    id: str
    name: str
    description: str
    qualities: list[Quality]
    preview_url: str | None


class StyleList(ApiModel):
    styles: list[StyleOut]


class Attribution(ApiModel):
    name: str
    url: str


class GalleryItem(ApiModel):
    id: str
    style: str
    tags: list[str]
    source: Source
    images: ImageSet
    attribution: Attribution | None
    license: str


class GalleryPage(ApiModel):
    items: list[GalleryItem]
    next_cursor: str | None


class QuotaWindow(ApiModel):
    window: Literal["hour", "day", "month"]
    limit: int | None
    remaining: int | None
    reset: int


class Quota(ApiModel):
    tier: str
    limits: list[QuotaWindow]
    # What the tier may ask for, so that a page offers only those choices (the tier table is configurable).
    qualities: list[Quality] = Field(default_factory=list, description="The qualities this tier may ask for.")
    sizes: list[int] = Field(default_factory=list, description="The sizes (px) this tier may ask for.")


class AvatarChoice(StrictModel):
    """``PUT /v1/me/avatar``: exactly one of ``gallery_id`` or ``generation_id``."""

    model_config = ConfigDict(json_schema_extra=exactly_one("gallery_id", "generation_id"))

    gallery_id: str | None = Field(None, min_length=1, max_length=128)
    generation_id: str | None = Field(None, min_length=1, max_length=128)


class Avatar(ApiModel):
    source: Literal["gallery", "generation"]
    id: str
    images: ImageSet


class AvatarOut(ApiModel):
    avatar: Avatar


class Health(ApiModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


class ErrorDetail(ApiModel):
    field: str | None = None
    message: str


class ErrorBody(ApiModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(ApiModel):
    error: ErrorBody
    suggestions: list[GalleryItem] | None = None


class GalleryRefreshAccepted(ApiModel):
    """``POST /v1/admin/gallery/refresh``: the run was started (local stage) or has run."""

    status: Literal["started", "published", "unchanged", "busy"] = Field(
        description="started: running in the background; busy: another refresh holds the lock."
    )
    run_id: str | None = None
    partial: bool = Field(False, description="Stopped at its time budget; the next run goes on.")
    added: dict[str, int] = Field(default_factory=dict, description="New items by source.")
    stopped: dict[str, str] = Field(default_factory=dict, description="Sources that stopped early, and why.")
    total: int | None = Field(None, description="Items in the gallery after the run.")


MAX_BATCH_ITEMS = 100


class BatchRequest(StrictModel):
    """``POST /v1/batches``: up to 100 generations for an enterprise API client, on the batch lane."""

    items: list[GenerationRequest] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description="https URL called with each final Generation (signed).",
        json_schema_extra={"pattern": HTTPS_URL_PATTERN},
    )

    _https_callback = field_validator("callback_url")(https_url)


class BatchAccepted(ApiModel):
    id: str
    generation_ids: list[str]


class BatchStatus(ApiModel):
    id: str
    counts: dict[str, int] = Field(description="Generations of the batch by status.")
    generation_ids: list[str]
