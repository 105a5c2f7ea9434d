"""The vendors' own clients judge the stand-ins: each official SDK (dev dependencies only:
fal-client, replicate, openai, together) drives the shared stand-in of its vendor
(``stack/standins``, the one ``make stack`` serves) through an httpx transport on the vendor's real
host, network-free. A stand-in answer that the client rejects (a missing field, a wrong status
code, a status it does not know, a bad signature) fails here.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import fal_client
import httpx
import openai
import pytest
import replicate
import together
from replicate.client import Client as ReplicateClient
from replicate.prediction import Prediction
from replicate.webhook import InvalidSignatureError, Webhooks, WebhookSigningSecret
from together.types.image_data_b64 import ImageDataB64

from chalicelib.adapters.providers.replicate import RUNNING_STATUSES, TERMINAL_STATUSES
from stack.standins import (
    FAL_KEY,
    OPENAI_KEY,
    REPLICATE_SECRET,
    REPLICATE_TOKEN,
    TOGETHER_KEY,
    Shared,
    StandIns,
)

PROMPT = "a watercolor portrait of a fox"


@pytest.fixture
def standins() -> StandIns:
    return StandIns()


# -- fal-client -------------------------------------------------------------------------------------


@pytest.fixture
def fal(standins: StandIns) -> Iterator[fal_client.SyncClient]:
    client = fal_client.SyncClient(key=FAL_KEY)
    # The SDK's own httpx client, on the stand-in's transport (the SDK's requests, hosts and URLs).
    http = httpx.Client(
        transport=standins.transport(),
        headers={"Authorization": f"Key {FAL_KEY}"},
        follow_redirects=True,
    )
    client.__dict__["_client"] = http
    yield client
    http.close()


def test_fal_client_run(fal: fal_client.SyncClient) -> None:
    result = fal.run(
        "fal-ai/flux-pro/v1.1", {"prompt": PROMPT, "image_size": "square_hd", "safety_tolerance": "2"}
    )
    assert result["images"][0]["url"].startswith("data:image/png;base64,")
    assert result["has_nsfw_concepts"] == [False]


def test_fal_client_refuses_a_field_the_model_does_not_have(fal: fal_client.SyncClient) -> None:
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        fal.run("fal-ai/flux-pro/v1.1", {"prompt": PROMPT, "enable_safety_checker": True})
    assert caught.value.status_code == 422


def test_fal_client_submit_status_result(fal: fal_client.SyncClient, standins: StandIns) -> None:
    standins.shared.script("fal", "queued")
    handle = fal.submit("fal-ai/flux/schnell", {"prompt": PROMPT, "seed": 7, "num_inference_steps": 4})
    first = handle.status()
    assert isinstance(first, fal_client.Queued) and first.position == 0  # a 202 the client accepts
    assert isinstance(handle.status(with_logs=True), fal_client.InProgress)
    assert isinstance(handle.status(), fal_client.Completed)
    assert handle.get()["seed"] == 7
    assert fal.result("fal-ai/flux/schnell", handle.request_id)["seed"] == 7
    assert isinstance(fal.status("fal-ai/flux/schnell", handle.request_id), fal_client.Completed)


def test_fal_client_cancel(fal: fal_client.SyncClient, standins: StandIns) -> None:
    standins.shared.script("fal", "held")
    handle = fal.submit("fal-ai/flux/dev", {"prompt": PROMPT})
    assert isinstance(handle.status(), fal_client.Queued)
    handle.cancel()  # 202 CANCELLATION_REQUESTED
    fal.cancel("fal-ai/flux/dev", handle.request_id)


def test_fal_client_sees_a_failed_request(fal: fal_client.SyncClient, standins: StandIns) -> None:
    standins.shared.script("fal", "error")
    handle = fal.submit("fal-ai/flux/schnell", {"prompt": PROMPT})
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        handle.get()
    assert caught.value.status_code == 422


def test_fal_client_rejects_an_unknown_status(fal: fal_client.SyncClient, standins: StandIns) -> None:
    """The stand-in's unknown status is one the client does not accept either."""
    standins.shared.script("fal", "unknown_status")
    handle = fal.submit("fal-ai/flux/schnell", {"prompt": PROMPT})
    with pytest.raises(ValueError, match="Unknown status"):
        handle.status()


# -- replicate --------------------------------------------------------------------------------------


@pytest.fixture
def rep(standins: StandIns) -> ReplicateClient:
    return ReplicateClient(api_token=REPLICATE_TOKEN, transport=standins.transport())


def test_replicate_create_with_wait_get_and_cancel(rep: ReplicateClient, standins: StandIns) -> None:
    done = rep.models.predictions.create(
        model="black-forest-labs/flux-schnell",
        input={"prompt": PROMPT, "seed": 3, "go_fast": False, "megapixels": "0.25"},
        wait=5,
    )
    assert done.status == "succeeded" and done.output and done.output[0].startswith("data:")
    assert rep.predictions.get(done.id).status == "succeeded"

    standins.shared.script("replicate", "slow")
    slow = rep.models.predictions.create(model="black-forest-labs/flux-dev", input={"prompt": PROMPT}, wait=5)
    assert slow.status == "starting"  # Prefer: wait answered before the end
    assert rep.predictions.get(slow.id).status == "processing"
    canceled = rep.predictions.cancel(slow.id)  # the whole prediction
    assert (canceled.id, canceled.status, canceled.model) == (
        slow.id,
        "canceled",
        "black-forest-labs/flux-dev",
    )
    assert canceled.urls and canceled.urls["get"].endswith(slow.id)


def test_replicate_prefer_wait_answers_starting_when_the_prediction_outlasts_it() -> None:
    """The stack's path: a prediction slower than the wait comes back ``starting``, then is polled."""
    standins = StandIns(Shared(latency_ms=(1500, 1500), deliver_webhooks=False))
    client = ReplicateClient(api_token=REPLICATE_TOKEN, transport=standins.transport())
    started = client.models.predictions.create(
        model="black-forest-labs/flux-schnell", input={"prompt": PROMPT}, wait=1
    )
    assert started.status == "starting" and started.output is None
    assert client.predictions.get(started.id).status == "succeeded"


def test_replicate_refuses_an_input_the_schema_does_not_have(rep: ReplicateClient) -> None:
    with pytest.raises(replicate.exceptions.ReplicateError) as caught:
        rep.models.predictions.create(
            model="black-forest-labs/flux-schnell", input={"prompt": PROMPT, "megapixels": "0.5"}
        )
    assert caught.value.status == 422


def test_replicate_statuses_are_the_sdks_plus_aborted() -> None:
    """replicate-python 1.0.7 (the newest release) types five statuses; its main branch
    (replicate/replicate-python#460) and the "Prediction lifecycle" docs add ``aborted``, which the
    adapter handles. When a release adds it, this set and the SDK agree without the union."""
    field = Prediction.__fields__["status"]
    sdk = set(typing.get_args(field.outer_type_))
    assert sdk | {"aborted"} == RUNNING_STATUSES | TERMINAL_STATUSES
    aborted: dict[str, Any] = {
        "id": "p",
        "model": "m",
        "version": "v",
        "status": "aborted",
        "input": {},
        "output": None,
        "logs": "",
        "error": None,
        "metrics": None,
        "created_at": None,
        "started_at": None,
        "completed_at": None,
        "urls": {},
    }
    with pytest.raises(Exception, match="aborted"):
        Prediction(**aborted)


def test_replicate_webhooks_validate_the_stand_ins_signature(
    rep: ReplicateClient, standins: StandIns
) -> None:
    rep.models.predictions.create(
        model="black-forest-labs/flux-schnell",
        input={"prompt": PROMPT},
        webhook="https://avatars.example/v1/webhooks/replicate?job=gen_1",
        webhook_events_filter=["completed"],
    )
    standins.shared.senders.shutdown(wait=True)
    vendor, _, body, headers = standins.shared.sent[-1]
    assert vendor == "replicate"
    secret = WebhookSigningSecret(key=REPLICATE_SECRET)
    Webhooks.validate(headers=headers, body=body.decode(), secret=secret, tolerance=300)
    with pytest.raises(InvalidSignatureError):
        Webhooks.validate(headers=headers, body=body.decode() + " ", secret=secret, tolerance=300)


# -- openai -----------------------------------------------------------------------------------------


@pytest.fixture
def oai(standins: StandIns) -> Iterator[openai.OpenAI]:
    http = httpx.Client(transport=standins.transport())
    # openai 3.x types its http_client as its vendored httpx fork's; httpx's own client works the same.
    client = openai.OpenAI(api_key=OPENAI_KEY, http_client=http, max_retries=0)  # type: ignore[arg-type]
    yield client
    client.close()


def test_openai_images_generate(oai: openai.OpenAI) -> None:
    answer = oai.images.generate(model="gpt-image-1", prompt=PROMPT, size="1024x1024", quality="medium", n=1)
    assert answer.data and answer.data[0].b64_json and answer.data[0].url is None
    assert answer.usage is not None and answer.usage.output_tokens == 1056
    assert (answer.quality, answer.size, answer.output_format) == ("medium", "1024x1024", "png")


def test_openai_model_not_found(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.images.generate(model="dall-e-3", prompt=PROMPT)
    assert caught.value.code == "model_not_found"
    assert caught.value.request_id and caught.value.request_id.startswith("req_")


def test_openai_refuses_response_format_for_gpt_image(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.images.generate(model="gpt-image-1", prompt=PROMPT, response_format="b64_json")
    assert caught.value.param == "response_format"


# -- together ---------------------------------------------------------------------------------------


def test_together_images_generate(standins: StandIns) -> None:
    client = together.Together(
        api_key=TOGETHER_KEY, http_client=httpx.Client(transport=standins.transport()), max_retries=0
    )
    answer: Any = client.images.generate(
        model="black-forest-labs/FLUX.1-schnell",
        prompt=PROMPT,
        width=512,
        height=512,
        steps=4,
        seed=5,
        response_format="base64",
    )
    assert answer.object == "list" and answer.id
    item = answer.data[0]
    assert isinstance(item, ImageDataB64)  # the SDK's union is discriminated by ``type``
    assert item.type == "b64_json" and item.index == 0 and item.b64_json
    client.close()
