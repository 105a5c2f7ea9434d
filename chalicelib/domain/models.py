"""Pydantic models of every request and response body in the contract.

The handlers validate with these and the OpenAPI document is generated from them, so the two
cannot drift apart.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Quality = Literal["fast", "standard", "pro"]
Status = Literal["queued", "running", "succeeded", "failed"]
Lane = Literal["premium", "free", "batch"]
Source = Literal["pexels", "generated_photos", "unsplash", "ai", "procedural"]

MAX_PROMPT_CHARS = 300


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GenerationRequest(_Strict):
    """What a client asks for in ``POST /v1/generations``."""

    style: str = Field(min_length=1, max_length=64, description="A style id from GET /v1/styles.")
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS, description="Optional subject description.")
    variation: int = Field(0, ge=0, le=999, description="Pick another take on the same request.")
    size: Literal[512, 1024] = Field(512, description="Largest edge in pixels of the largest image.")
    quality: Quality = "fast"
    callback_url: str | None = Field(
        None, max_length=2048, description="https URL called when the generation ends (enterprise only)."
    )

    @field_validator("prompt")
    @classmethod
    def _printable_prompt(cls, value: str) -> str:
        # Control characters (other than ordinary whitespace) have no place in a prompt and are a
        # classic way to smuggle instructions or break logs downstream.
        for ch in value:
            if ch in "\t\n\r":
                continue
            if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
                raise ValueError("prompt contains control or unassigned characters")
        return value

    @field_validator("callback_url")
    @classmethod
    def _https_callback(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith("https://"):
            raise ValueError("callback_url must be an https URL")
        return value


ImageSet = dict[str, str]


class ErrorInfo(BaseModel):
    code: str
    message: str


class Generation(BaseModel):
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
    created_at: str
    completed_at: str | None


class GenerationPage(BaseModel):
    items: list[Generation]
    next_cursor: str | None


class StyleOut(BaseModel):
    id: str
    name: str
    description: str
    qualities: list[Quality]
    preview_url: str | None


class StyleList(BaseModel):
    styles: list[StyleOut]


class Attribution(BaseModel):
    name: str
    url: str


class GalleryItem(BaseModel):
    id: str
    style: str
    tags: list[str]
    source: Source
    images: ImageSet
    attribution: Attribution | None
    license: str


class GalleryPage(BaseModel):
    items: list[GalleryItem]
    next_cursor: str | None


class QuotaWindow(BaseModel):
    window: Literal["hour", "day", "month"]
    limit: int | None
    remaining: int | None
    reset: int


class Quota(BaseModel):
    tier: str
    limits: list[QuotaWindow]


class AvatarChoice(_Strict):
    """``PUT /v1/me/avatar``: exactly one of ``gallery_id`` or ``generation_id``."""

    gallery_id: str | None = Field(None, min_length=1, max_length=128)
    generation_id: str | None = Field(None, min_length=1, max_length=128)


class Avatar(BaseModel):
    source: Literal["gallery", "generation"]
    id: str
    images: ImageSet


class AvatarOut(BaseModel):
    avatar: Avatar


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
    suggestions: list[GalleryItem] | None = None
