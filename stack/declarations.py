"""What the stack builds, read from the project's declarations rather than written down twice.

- the lanes: every ``AVATARFLOW_QUEUE_URL_<LANE>`` of the CloudFormation ``Globals`` in
  ``infra/cloudformation/resources.yml`` names a queue resource; its ``QueueName``,
  ``VisibilityTimeout``, ``MessageRetentionPeriod`` and ``RedrivePolicy`` (the DLQ resource and
  ``maxReceiveCount``) are taken as declared, with ``${Stage}`` substituted;
- each lane's consumer: the Chalice app's SQS event source on that queue name (handler, batch size,
  batching window), the function's ``lambda_timeout`` in ``.chalice/config.json`` and the
  ``ScalingConfig.MaximumConcurrency`` of its event source in the template;
- the schedules: the app's scheduled event sources (handler, ``rate(...)``, the function's timeout);
- the image bucket: ``r2_bucket_name`` of ``infra/terraform/example.tfvars``;
- the template's own buckets named in the ``Globals`` (``AVATARFLOW_PHOTOS_BUCKET: !Ref
  PhotosBucket``): its ``BucketName``, or ``avatarflow-<stage>-photos`` (CloudFormation would
  generate one);
- the template's own SQS functions: a queue of the ``Globals`` whose consumer is a function of the
  template itself (the photo checks' container image, ``PhotoChecks``) is not a lane but one of
  :attr:`StackDeclarations.functions`, with the same fields: its handler is the image's
  ``ImageConfig.Command``, its timeout and batch size the template's. The stack runs its handler
  from this checkout, as production runs it from the image built of the same code (docs/photos.md).

A lane added to the template and the app (e.g. ``enterprise``) appears in the stack with no change here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "cloudformation" / "resources.yml"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
TFVARS = ROOT / "infra" / "terraform" / "example.tfvars"
QUEUE_URL_PREFIX = "AVATARFLOW_QUEUE_URL_"
DEFAULT_STAGE = "dev"
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class LaneDeclaration:
    lane: str  # "premium", "free", ... (lower case of the AVATARFLOW_QUEUE_URL_ suffix)
    url_env: str  # AVATARFLOW_QUEUE_URL_<LANE>
    queue_name: str
    dlq_name: str
    visibility_timeout_s: int
    retention_s: int
    max_receive_count: int
    function: str  # the Chalice function (lane_premium)
    handler: str  # its handler string (module.attribute)
    batch_size: int
    batch_window_s: int
    lambda_timeout_s: int
    max_concurrency: int | None


@dataclass(frozen=True)
class ScheduleDeclaration:
    function: str
    handler: str
    expression: str  # rate(2 minutes)
    rate_s: int
    lambda_timeout_s: int


@dataclass(frozen=True)
class StackDeclarations:
    stage: str
    lanes: tuple[LaneDeclaration, ...]
    schedules: tuple[ScheduleDeclaration, ...]
    bucket: str
    stage_environment: Mapping[str, str]  # .chalice/config.json's environment_variables of the stage
    lane_max_receives: int | None  # AVATARFLOW_LANE_MAX_RECEIVES of the Globals
    # The template's own functions on a queue of the Globals (``lane``: "photos", the
    # AVATARFLOW_QUEUE_URL_ suffix; ``function``: the template's logical id, PhotoChecks).
    functions: tuple[LaneDeclaration, ...] = ()
    buckets: Mapping[str, str] = field(default_factory=dict)  # env name -> bucket (the template's own)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- CloudFormation YAML ---------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (``!Ref X`` → ``{"Ref": "X"}``, ``!GetAtt A.B`` → ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if name == "Fn::GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader + tags


def _sub(value: Any, stage: str) -> str:
    """A ``!Sub`` of the stage (or a plain string), as CloudFormation resolves it."""
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    if not isinstance(text, str):
        raise ValueError(f"cannot resolve {value!r} without deploying")
    return text.replace("${Stage}", stage)


def _find_in_map(value: Any, mappings: Mapping[str, Any], stage: str) -> int | None:
    if isinstance(value, int):
        return value
    args = value.get("Fn::FindInMap") if isinstance(value, dict) else None
    if not isinstance(args, list) or len(args) != 3:
        return None
    name, first, second = args
    first = stage if first == {"Ref": "Stage"} else first
    try:
        return int(mappings[name][first][second])
    except (KeyError, TypeError, ValueError):
        return None


def _template_consumer(resources: Mapping[str, Any], queue_logical_id: str) -> str | None:
    """The template's own function (not Chalice's) with an SQS event on that queue, if any."""
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource.get("Properties", {}).get("Events", {}).values():
            queue = event.get("Properties", {}).get("Queue")
            if event.get("Type") == "SQS" and queue == {"Fn::GetAtt": [queue_logical_id, "Arn"]}:
                return str(logical_id)
    return None


# -- the app ------------------------------------------------------------------------------------------


def _app_event_sources() -> list[Any]:
    """The Chalice app's event sources (their queue names carry the stage the app was imported
    with: matched against the template's by pattern)."""
    import app

    return list(app.app.event_sources)


def _consumer(sources: Mapping[str, Any], declared_name: Any) -> Any:
    """The app's SQS event source on a queue the template names ``avatarflow-${Stage}-<lane>``."""
    text = declared_name.get("Fn::Sub") if isinstance(declared_name, dict) else declared_name
    pattern = re.compile(re.escape(str(text)).replace(re.escape("${Stage}"), "[a-z0-9]+"))
    found = [source for queue, source in sources.items() if pattern.fullmatch(queue)]
    return found[0] if len(found) == 1 else None


def _rate_seconds(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (\w+)\)", expression.strip())
    if not match or match.group(2) not in _RATE_UNITS:
        raise ValueError(f"unsupported schedule {expression!r} (the stack runs rate() schedules)")
    return int(match.group(1)) * _RATE_UNITS[match.group(2)]


def _function_timeout(stage_config: Mapping[str, Any], function: str) -> int:
    functions = stage_config.get("lambda_functions", {})
    own = functions.get(function, {}).get("lambda_timeout")
    return int(own or stage_config.get("lambda_timeout") or 60)


def read_declarations(stage: str = DEFAULT_STAGE) -> StackDeclarations:
    """Everything the stack creates and runs for ``stage``, from the project's declarations."""
    template = load_template()
    resources: dict[str, Any] = template["Resources"]
    mappings: dict[str, Any] = template.get("Mappings", {})
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    config = json.loads(CHALICE_CONFIG.read_text())
    stage_config = config["stages"][stage]
    sources = _app_event_sources()
    sqs_sources = {s.queue: s for s in sources if type(s).__name__ == "SQSEventConfig"}

    lanes: list[LaneDeclaration] = []
    functions: list[LaneDeclaration] = []
    for env_name, ref in variables.items():
        if not env_name.startswith(QUEUE_URL_PREFIX) or not isinstance(ref, dict) or "Ref" not in ref:
            continue
        own = _template_consumer(resources, ref["Ref"])
        if own is not None:
            functions.append(
                _template_function(
                    resources,
                    mappings,
                    stage,
                    env_name=env_name,
                    queue_logical_id=ref["Ref"],
                    function_logical_id=own,
                )
            )
            continue
        queue = resources[ref["Ref"]]["Properties"]
        redrive = queue["RedrivePolicy"]
        dlq_logical = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        queue_name = _sub(queue["QueueName"], stage)
        source = _consumer(sqs_sources, queue["QueueName"])
        if source is None:
            raise ValueError(f"no SQS handler in the app reads {queue_name} (declared by {env_name})")
        # The template's overrides of the function's event source (CamelCase of the Chalice name).
        logical_function = "".join(part.capitalize() for part in source.name.split("_"))
        event = (
            resources.get(logical_function, {})
            .get("Properties", {})
            .get("Events", {})
            .get(f"{logical_function}SqsEventSource", {})
            .get("Properties", {})
        )
        lanes.append(
            LaneDeclaration(
                lane=env_name[len(QUEUE_URL_PREFIX) :].lower(),
                url_env=env_name,
                queue_name=queue_name,
                dlq_name=_sub(resources[dlq_logical]["Properties"]["QueueName"], stage),
                visibility_timeout_s=int(queue.get("VisibilityTimeout", 30)),
                retention_s=int(queue.get("MessageRetentionPeriod", 345600)),
                max_receive_count=int(redrive["maxReceiveCount"]),
                function=source.name,
                handler=source.handler_string,
                batch_size=int(event.get("BatchSize", source.batch_size)),
                batch_window_s=int(
                    event.get(
                        "MaximumBatchingWindowInSeconds", source.maximum_batching_window_in_seconds or 0
                    )
                ),
                lambda_timeout_s=_function_timeout(stage_config, source.name),
                max_concurrency=_find_in_map(
                    event.get("ScalingConfig", {}).get("MaximumConcurrency"), mappings, stage
                ),
            )
        )
    schedules = [
        ScheduleDeclaration(
            function=s.name,
            handler=s.handler_string,
            expression=s.schedule_expression.to_string(),
            rate_s=_rate_seconds(s.schedule_expression.to_string()),
            lambda_timeout_s=_function_timeout(stage_config, s.name),
        )
        for s in sources
        if type(s).__name__ == "ScheduledEventConfig"
    ]
    max_receives = variables.get("AVATARFLOW_LANE_MAX_RECEIVES")
    return StackDeclarations(
        stage=stage,
        lanes=tuple(lanes),
        schedules=tuple(schedules),
        bucket=_bucket_name(stage),
        stage_environment=dict(stage_config.get("environment_variables", {})),
        lane_max_receives=int(max_receives) if isinstance(max_receives, str | int) else None,
        functions=tuple(functions),
        buckets=_template_buckets(resources, variables, stage),
    )


def _template_function(
    resources: Mapping[str, Any],
    mappings: Mapping[str, Any],
    stage: str,
    *,
    env_name: str,
    queue_logical_id: str,
    function_logical_id: str,
) -> LaneDeclaration:
    """A queue of the Globals and the template's own function on it (PhotoChecks), as a lane is
    declared: what the stack's worker for it needs."""
    queue = resources[queue_logical_id]["Properties"]
    redrive = queue["RedrivePolicy"]
    dlq_logical = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    props = resources[function_logical_id]["Properties"]
    event = next(
        e["Properties"]
        for e in props["Events"].values()
        if e.get("Type") == "SQS"
        and e["Properties"].get("Queue") == {"Fn::GetAtt": [queue_logical_id, "Arn"]}
    )
    return LaneDeclaration(
        lane=env_name[len(QUEUE_URL_PREFIX) :].lower(),
        url_env=env_name,
        queue_name=_sub(queue["QueueName"], stage),
        dlq_name=_sub(resources[dlq_logical]["Properties"]["QueueName"], stage),
        visibility_timeout_s=int(queue.get("VisibilityTimeout", 30)),
        retention_s=int(queue.get("MessageRetentionPeriod", 345600)),
        max_receive_count=int(redrive["maxReceiveCount"]),
        function=function_logical_id,
        handler=str(props["ImageConfig"]["Command"][0]),
        batch_size=int(event.get("BatchSize", 10)),
        batch_window_s=int(event.get("MaximumBatchingWindowInSeconds", 0)),
        lambda_timeout_s=int(props.get("Timeout", 3)),
        max_concurrency=_find_in_map(
            event.get("ScalingConfig", {}).get("MaximumConcurrency"), mappings, stage
        ),
    )


def _template_buckets(
    resources: Mapping[str, Any], variables: Mapping[str, Any], stage: str
) -> dict[str, str]:
    """The template's own S3 buckets the Globals name (``AVATARFLOW_PHOTOS_BUCKET``): env name ->
    bucket name (``BucketName``, else ``avatarflow-<stage>-<logical id without Bucket>``)."""
    buckets: dict[str, str] = {}
    for env_name, ref in variables.items():
        logical = ref.get("Ref") if isinstance(ref, dict) else None
        resource = resources.get(logical) if isinstance(logical, str) else None
        if not resource or resource.get("Type") != "AWS::S3::Bucket":
            continue
        name = resource.get("Properties", {}).get("BucketName")
        stem = re.sub(r"(?<!^)(?=[A-Z])", "-", str(logical).removesuffix("Bucket")).lower()
        buckets[env_name] = _sub(name, stage) if name else f"avatarflow-{stage}-{stem}"
    return buckets


def _bucket_name(stage: str) -> str:
    match = re.search(r'^\s*r2_bucket_name\s*=\s*"([^"]+)"', TFVARS.read_text(), re.MULTILINE)
    return match.group(1) if match else f"avatarflow-{stage}-images"
