"""The real-time status protocol (``avatarflow.events.v1``): ``GET /v1/realtime`` and the WebSocket
messages, as pydantic models (the OpenAPI document and the handlers share them)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.schemas.models import ApiModel, BatchStatus, ErrorBody, Generation

REALTIME_PROTOCOL: Literal["avatarflow.events.v1"] = "avatarflow.events.v1"


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RealtimeInfo(ApiModel):
    """``GET /v1/realtime``: where the WebSocket API is, and the protocol it speaks."""

    url: str = Field(description="wss://… (ws://… in the local stage); credentials go in its query string.")
    protocol: Literal["avatarflow.events.v1"] = REALTIME_PROTOCOL


class WatchGeneration(_Strict):
    """Client → server: push every change of one generation of the caller's."""

    action: Literal["watch"]
    generation_id: str = Field(min_length=1, max_length=64)


class WatchBatch(_Strict):
    """Client → server: push every change of each generation of one batch, then the batch."""

    action: Literal["watch_batch"]
    batch_id: str = Field(min_length=1, max_length=64)


class GenerationMessage(ApiModel):
    type: Literal["generation"] = "generation"
    generation: Generation


class BatchMessage(ApiModel):
    type: Literal["batch"] = "batch"
    batch: BatchStatus


class ErrorMessage(ApiModel):
    type: Literal["error"] = "error"
    error: ErrorBody
