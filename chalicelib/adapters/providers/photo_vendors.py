"""The vendors' photo models: a stylised avatar of the person in a photo, which each reads from
a presigned GET URL (valid at most 10 minutes) given in ``ProviderRequest.photo_url``.

Request and response shapes, confirmed against the vendors' documented schemas (via the
reference search; the fal schemas as generated into the ``fal`` Rust crate from fal's OpenAPI):

- fal ``fal-ai/flux-pulid`` (``POST https://fal.run/fal-ai/flux-pulid``, ``Authorization: Key``):
  input ``prompt``, ``reference_image_url``, ``id_weight`` (the weight of the ID loss: how much
  of the face is kept; fal's default 1.0), ``image_size``, ``num_inference_steps``, ``seed``,
  ``guidance_scale``, ``negative_prompt``, ``enable_safety_checker``; output ``{"images": [{"url",
  "width", "height", "content_type"}], "seed", ...}``.
- fal ``fal-ai/flux-pro/kontext``: input ``prompt``, ``image_url``, ``seed``, ``guidance_scale``,
  ``num_images``, ``safety_tolerance``, ``output_format``, ``aspect_ratio``, ``sync_mode``; output
  ``{"images": [{"url", ...}], "has_nsfw_concepts": [bool], "seed", "prompt"}``.
- Replicate ``black-forest-labs/flux-kontext-pro`` (``POST /v1/models/{owner}/{name}/predictions``
  with ``Prefer: wait``): input ``prompt``, ``input_image``, ``aspect_ratio`` (``match_input_image``
  or a ratio), ``output_format``, ``safety_tolerance`` (0..2 with an input image), ``seed``,
  ``prompt_upsampling``; ``output`` is one URI string.
- Together ``black-forest-labs/FLUX.1-kontext-pro`` (``POST /v1/images/generations``): the
  image-generation body with ``image_url`` for the reference picture; ``data[0]`` holds ``url``
  or ``b64_json``.

``likeness`` (0..1) maps to each model's own strength: PuLID's ``id_weight`` (``1.25 x
likeness``: the default 0.8 is fal's default 1.0). The Kontext models have no numeric identity
strength: the instruction says how strictly the face is kept (three wordings by likeness), and
Kontext on fal also lowers ``guidance_scale`` for a high likeness (the photo weighs more).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.adapters.key_pool import KeyPool
from chalicelib.adapters.providers.fal import FAL_IMAGE_SIZES, FalProvider
from chalicelib.adapters.providers.options import ProviderOptions
from chalicelib.adapters.providers.replicate import ReplicateProvider
from chalicelib.adapters.providers.together import TogetherProvider
from chalicelib.ports import ProviderBadRequest, ProviderRequest

FAL_PULID = "fal-ai/flux-pulid"
FAL_KONTEXT = "fal-ai/flux-pro/kontext"
REPLICATE_KONTEXT = "black-forest-labs/flux-kontext-pro"
TOGETHER_KONTEXT = "black-forest-labs/FLUX.1-kontext-pro"
QUALITIES = ("fast", "standard", "pro")
PULID_STEPS = 20
PULID_NEGATIVE = "bad quality, worst quality, text, signature, watermark, extra limbs, several people"


def id_weight(likeness: float) -> float:
    """PuLID's ``id_weight`` for a likeness (0..1): 1.25 x likeness, so 0.8 gives fal's default 1.0."""
    return round(1.25 * max(0.0, min(1.0, likeness)), 3)


def kontext_instruction(prompt: str, likeness: float) -> str:
    """The Kontext instruction: the style's prompt, and how strictly the face is kept."""
    if likeness >= 0.75:
        keep = "Keep the person's exact facial features, face shape and expression unchanged."
    elif likeness >= 0.4:
        keep = "Keep the person recognisable: the same face shape, eyes and hair."
    else:
        keep = "Loosely inspired by the person's face."
    return f"Turn this photo of a person into a square avatar portrait: {prompt}. {keep}"


def with_model(options: ProviderOptions | None, model: str) -> ProviderOptions:
    """``options`` with ``model`` for every quality (a photo vendor has one photo model)."""
    return dataclasses.replace(options or ProviderOptions(), models=dict.fromkeys(QUALITIES, model))


def photo_url_of(request: ProviderRequest, vendor: str) -> str:
    if not request.photo_url:
        raise ProviderBadRequest(f"{vendor}: a photo generation needs the photo's URL")
    return request.photo_url


class FalPhotoProvider(FalProvider):
    """fal's photo models: ``fal-ai/flux-pulid`` (default) or ``fal-ai/flux-pro/kontext``."""

    def __init__(
        self, api_key: str | KeyPool, options: ProviderOptions | None = None, *, model: str = FAL_PULID
    ) -> None:
        if model not in (FAL_PULID, FAL_KONTEXT):
            raise ValueError(f"unknown fal photo model {model!r}")
        super().__init__(api_key, with_model(options, model))

    def build_input(self, request: ProviderRequest, model: str, *, sync_mode: bool = True) -> dict[str, Any]:
        url = photo_url_of(request, self.name)
        if model == FAL_KONTEXT:
            return {
                "prompt": kontext_instruction(request.prompt, request.likeness),
                "image_url": url,
                "seed": request.seed,
                "guidance_scale": round(4.5 - 2.0 * request.likeness, 2),
                "num_images": 1,
                "safety_tolerance": "2",
                "output_format": "png",
                "aspect_ratio": "1:1",
                "sync_mode": sync_mode,
            }
        size = request.size
        return {
            "prompt": request.prompt,
            "reference_image_url": url,
            "id_weight": id_weight(request.likeness),
            "image_size": FAL_IMAGE_SIZES.get(size) or {"width": size, "height": size},
            "num_inference_steps": PULID_STEPS,
            "seed": request.seed,
            "negative_prompt": PULID_NEGATIVE,
            "enable_safety_checker": True,
        }


class ReplicatePhotoProvider(ReplicateProvider):
    """Replicate's ``black-forest-labs/flux-kontext-pro``."""

    def __init__(
        self,
        api_key: str | KeyPool,
        options: ProviderOptions | None = None,
        *,
        wait_seconds: int = 30,
        deadline_seconds: float = 90.0,
    ) -> None:
        super().__init__(
            api_key,
            with_model(options, REPLICATE_KONTEXT),
            wait_seconds=wait_seconds,
            deadline_seconds=deadline_seconds,
        )

    def build_input(self, request: ProviderRequest) -> dict[str, Any]:
        return {
            "prompt": kontext_instruction(request.prompt, request.likeness),
            "input_image": photo_url_of(request, self.name),
            "aspect_ratio": "1:1",
            "output_format": "png",
            "safety_tolerance": 2,
            "seed": request.seed,
        }


class TogetherPhotoProvider(TogetherProvider):
    """Together's ``black-forest-labs/FLUX.1-kontext-pro``."""

    def __init__(self, api_key: str | KeyPool, options: ProviderOptions | None = None) -> None:
        super().__init__(api_key, with_model(options, TOGETHER_KONTEXT), steps={})

    def build_body(self, request: ProviderRequest, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "prompt": kontext_instruction(request.prompt, request.likeness),
            "image_url": photo_url_of(request, self.name),
            "n": 1,
            "width": request.size,
            "height": request.size,
            "seed": request.seed,
            "response_format": "base64",
        }
