"""infra/: what the deploy templates must promise the code, checked without packaging anything.

`make package` builds Chalice's SAM template merged with infra/cloudformation/resources.yml and
cfn-lints it (valid CloudFormation); these tests pin what a linter cannot know: that the queues are
the ones chalicelib/workers/lanes.py reads, that every lane has a DLQ, a redrive policy and an alarm,
that partial batch failures are on, that secrets stay out of the repository, and that the R2
lifecycle expires unchosen generations (img/) and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from chalice.app import SQSEventConfig
from chalice.utils import to_cfn_resource_name
from pydantic import AliasChoices, SecretStr

from chalicelib.adapters.storage.gallery_writer import MANIFEST_KEY
from chalicelib.config import Settings
from chalicelib.domain.tiers import LANES
from chalicelib.workers.lanes import lane_queue_name

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "cloudformation" / "resources.yml"
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
TERRAFORM = ROOT / "infra" / "terraform"

DLQ_RETENTION_S = 14 * 24 * 3600
VISIBILITY_PER_TIMEOUT = 6  # AWS's advice for SQS event sources: at least 6x the function timeout


# --- loading ------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) as their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def template() -> dict[str, Any]:
    loaded = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 (a SafeLoader)
    assert isinstance(loaded, dict)
    return loaded


@cache
def chalice_config() -> dict[str, Any]:
    loaded = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def resources() -> dict[str, Any]:
    found = template()["Resources"]
    assert isinstance(found, dict)
    return found


def deployed_stages() -> list[str]:
    return [name for name in chalice_config()["stages"] if name != "local"]


def function_setting(stage: str, function: str, key: str) -> Any:
    """A Chalice per-function setting, looked up the way Chalice does (function, stage, top level)."""
    config = chalice_config()
    stage_config = config["stages"][stage]
    for scope in (stage_config.get("lambda_functions", {}).get(function, {}), stage_config, config):
        if key in scope:
            return scope[key]
    return None


def substitute(value: Any, stage: str) -> str:
    """The value of a plain string or of a ``!Sub`` that uses only ${Stage}."""
    if isinstance(value, dict):
        assert list(value) == ["Fn::Sub"], value
        text = value["Fn::Sub"]
        assert isinstance(text, str)
        rendered = text.replace("${Stage}", stage)
        assert "${" not in rendered, f"unexpected substitution in {text!r}"
        return rendered
    assert isinstance(value, str)
    return value


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def get_att(name: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [name, attribute]}


def queue_id(lane: str) -> str:
    """The logical id of a lane's queue: the one whose name is avatarflow-${Stage}-<lane>."""
    for logical_id, resource in resources().items():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        if resource["Properties"].get("QueueName") == {"Fn::Sub": f"avatarflow-${{Stage}}-{lane}"}:
            return logical_id
    raise AssertionError(f"no queue named avatarflow-${{Stage}}-{lane} in {TEMPLATE}")


def dlq_id(lane: str) -> str:
    target = resources()[queue_id(lane)]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    assert isinstance(target, dict) and "Fn::GetAtt" in target, target
    name, attribute = target["Fn::GetAtt"]
    assert attribute == "Arn"
    assert isinstance(name, str)
    return name


def alarms() -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources().items():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            yield logical_id, resource["Properties"]


@cache
def lane_event_sources() -> dict[str, SQSEventConfig]:
    """The app's SQS event sources by lane, as registered by chalicelib/workers/lanes.py."""
    from app import app

    sources = [source for source in app.event_sources if isinstance(source, SQSEventConfig)]
    by_queue = {source.queue: source for source in sources}
    found = {lane: by_queue.get(lane_queue_name(lane)) for lane in LANES}
    missing = [lane for lane, source in found.items() if source is None]
    assert not missing, f"no SQS consumer for lanes {missing}: {[(s.name, s.queue) for s in sources]}"
    return {lane: source for lane, source in found.items() if source is not None}


def setting_aliases() -> dict[str, Any]:
    """Every environment variable Settings reads, with its field's annotation."""
    aliases: dict[str, Any] = {}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for name in names:
            if isinstance(name, str):
                aliases[name] = field.annotation
    return aliases


def import_time_variables() -> set[str]:
    """Variables read straight from os.environ (at import: log level, schedules, queue names)."""
    names = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        names.update(
            re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', path.read_text(encoding="utf-8"))
        )
    names.update(f"AVATARFLOW_QUEUE_NAME_{lane.upper()}" for lane in LANES)  # lanes.py:lane_queue_name
    return names


def is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def globals_env() -> dict[str, Any]:
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert isinstance(variables, dict)
    return variables


# --- the lanes ----------------------------------------------------------------------------------


def test_the_template_declares_exactly_the_deployed_stages() -> None:
    assert template()["Parameters"]["Stage"]["AllowedValues"] == deployed_stages()
    assert deployed_stages(), "no deployed stage in .chalice/config.json"
    for stage in deployed_stages():
        env = chalice_config()["stages"][stage]["environment_variables"]
        assert env["AVATARFLOW_STAGE"] == stage
        # A queue name override would make Chalice look for a queue the template does not create.
        assert not [name for name in env if name.startswith("AVATARFLOW_QUEUE_NAME_")]
    # Chalice puts a stage's variables over the shell's: in the local stage the environment must
    # win (AVATARFLOW_CORS_ORIGINS=... make run), so the config sets nothing but the stage.
    assert chalice_config()["stages"]["local"]["environment_variables"] == {"AVATARFLOW_STAGE": "local"}
    assert "environment_variables" not in chalice_config()


@pytest.mark.parametrize("lane", LANES)
def test_each_lane_queue_has_the_name_the_lane_worker_reads(lane: str) -> None:
    queue = resources()[queue_id(lane)]["Properties"]
    for stage in deployed_stages():
        expected = lane_queue_name(lane, {"AVATARFLOW_STAGE": stage})
        assert substitute(queue["QueueName"], stage) == expected
    assert lane_event_sources()[lane].queue == lane_queue_name(lane)


@pytest.mark.parametrize("lane", LANES)
def test_each_lane_has_its_own_dead_letter_queue_and_redrive(lane: str) -> None:
    queue = resources()[queue_id(lane)]["Properties"]
    dlq_resource = resources()[dlq_id(lane)]
    assert dlq_resource["Type"] == "AWS::SQS::Queue"
    dlq = dlq_resource["Properties"]
    assert substitute(dlq["QueueName"], "dev") == f"avatarflow-dev-{lane}-dlq"
    assert dlq["MessageRetentionPeriod"] == DLQ_RETENTION_S
    assert queue["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    assert "RedrivePolicy" not in dlq

    max_receives = queue["RedrivePolicy"]["maxReceiveCount"]
    # The worker fails (refunds) the job at AVATARFLOW_LANE_MAX_RECEIVES; the DLQ only comes after.
    assert int(globals_env()["AVATARFLOW_LANE_MAX_RECEIVES"]) == max_receives
    assert max_receives >= Settings.model_fields["lane_max_receives"].default


def test_the_dead_letter_queues_are_three_different_queues() -> None:
    assert len({dlq_id(lane) for lane in LANES}) == len(LANES)
    assert not {dlq_id(lane) for lane in LANES} & {queue_id(lane) for lane in LANES}


@pytest.mark.parametrize("lane", LANES)
def test_visibility_timeout_is_six_times_the_lane_function_timeout(lane: str) -> None:
    visibility = resources()[queue_id(lane)]["Properties"]["VisibilityTimeout"]
    function = lane_event_sources()[lane].name
    for stage in deployed_stages():
        timeout = function_setting(stage, function, "lambda_timeout")
        assert isinstance(timeout, int), f"{stage}: no lambda_timeout for {function}"
        assert visibility >= VISIBILITY_PER_TIMEOUT * timeout, (stage, function, timeout, visibility)


@pytest.mark.parametrize("lane", LANES)
def test_each_lane_event_reports_batch_item_failures(lane: str) -> None:
    function = lane_event_sources()[lane].name
    merged = resources().get(to_cfn_resource_name(function))
    assert merged is not None, f"{TEMPLATE} does not merge into Chalice's {to_cfn_resource_name(function)}"
    events = merged["Properties"]["Events"]
    event_id = to_cfn_resource_name(f"{function}-sqs-event-source")  # Chalice's logical id
    assert list(events) == [event_id]
    properties = events[event_id]["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Chalice's Queue is {"Fn::Sub": ...}: a merged Queue would combine two intrinsics into one mapping.
    assert "Queue" not in properties


def test_lane_concurrency_matches_reserved_concurrency_premium_over_free_over_batch() -> None:
    mapping = template()["Mappings"]["LaneConcurrency"]
    for stage in deployed_stages():
        reserved = {}
        for lane in LANES:
            function = lane_event_sources()[lane].name
            event_id = to_cfn_resource_name(f"{function}-sqs-event-source")
            scaling = resources()[to_cfn_resource_name(function)]["Properties"]["Events"][event_id]
            key = scaling["Properties"]["ScalingConfig"]["MaximumConcurrency"]["Fn::FindInMap"]
            assert key[0] == "LaneConcurrency" and key[1] == ref("Stage")
            reserved[lane] = function_setting(stage, function, "reserved_concurrency")
            assert isinstance(reserved[lane], int), f"{stage}: no reserved_concurrency for {function}"
            # The mapping never invokes more than the function may run: no throttled redeliveries.
            assert mapping[stage][key[2]] == reserved[lane], (stage, lane)
            assert reserved[lane] >= 2, "SQS event source mappings need a maximum concurrency of 2 or more"
        assert reserved["premium"] > reserved["free"] > reserved["batch"], (stage, reserved)


def test_api_timeout_fits_api_gateway_and_lanes_run_longer() -> None:
    for stage in deployed_stages():
        api = function_setting(stage, "api_handler", "lambda_timeout")
        assert api <= 29, "API Gateway stops waiting at 29 s"
        for lane in LANES:
            assert function_setting(stage, lane_event_sources()[lane].name, "lambda_timeout") > api


# --- alarms -------------------------------------------------------------------------------------


def alarm_actions_go_to_the_ops_topic(properties: dict[str, Any]) -> bool:
    return ref("OpsTopic") in properties.get("AlarmActions", [])


@pytest.mark.parametrize("lane", LANES)
def test_each_dead_letter_queue_has_an_alarm_on_any_message(lane: str) -> None:
    matching = [
        logical_id
        for logical_id, properties in alarms()
        if properties.get("Namespace") == "AWS/SQS"
        and properties.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and properties.get("Dimensions")
        == [{"Name": "QueueName", "Value": get_att(dlq_id(lane), "QueueName")}]
        and properties.get("Threshold") == 0
        and properties.get("ComparisonOperator") == "GreaterThanThreshold"
        and alarm_actions_go_to_the_ops_topic(properties)
    ]
    assert len(matching) == 1, f"{lane}: {matching}"


@pytest.mark.parametrize("lane", LANES)
def test_each_lane_has_an_oldest_message_alarm_before_the_job_deadline(lane: str) -> None:
    deadline = Settings.model_fields["job_deadline_seconds"].default
    matching = [
        properties
        for _, properties in alarms()
        if properties.get("MetricName") == "ApproximateAgeOfOldestMessage"
        and properties.get("Dimensions")
        == [{"Name": "QueueName", "Value": get_att(queue_id(lane), "QueueName")}]
        and alarm_actions_go_to_the_ops_topic(properties)
    ]
    assert len(matching) == 1, lane
    assert 0 < matching[0]["Threshold"] < deadline


def test_api_5xx_rate_alarm_watches_this_stages_api() -> None:
    rest_api = resources()["RestAPI"]["Properties"]
    api_name = rest_api["Name"]
    assert rest_api["DefinitionBody"]["info"]["title"] == api_name
    matching = []
    for _, properties in alarms():
        stats = [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
        if any(s["Namespace"] == "AWS/ApiGateway" and s["MetricName"] == "5XXError" for s in stats):
            matching.append(properties)
            assert alarm_actions_go_to_the_ops_topic(properties)
            for stat in stats:
                dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
                assert dimensions["ApiName"] == api_name
                for stage in deployed_stages():
                    assert dimensions["Stage"] == chalice_config()["stages"][stage]["api_gateway_stage"]
    assert len(matching) == 1


# --- what the functions are given ---------------------------------------------------------------


def test_functions_get_the_queue_urls_and_the_budget_topic() -> None:
    env = globals_env()
    for lane in LANES:
        assert env[f"AVATARFLOW_QUEUE_URL_{lane.upper()}"] == ref(queue_id(lane))
    assert env["AVATARFLOW_BUDGET_SNS_TOPIC_ARN"] == ref("OpsTopic")
    assert resources()["OpsTopic"]["Type"] == "AWS::SNS::Topic"
    policy = resources()["AppPolicy"]["Properties"]
    assert policy["Roles"] == [ref("DefaultRole")]  # Chalice's role of every function
    statements = policy["PolicyDocument"]["Statement"]
    lanes_granted = [s for s in statements if "sqs:SendMessage" in _list(s["Action"])]
    assert len(lanes_granted) == 1
    assert sorted(map(json.dumps, lanes_granted[0]["Resource"])) == sorted(
        json.dumps(get_att(queue_id(lane), "Arn")) for lane in LANES
    )
    assert any("sns:Publish" in _list(s["Action"]) and s["Resource"] == ref("OpsTopic") for s in statements)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_variable_given_to_the_functions_is_a_setting() -> None:
    known = set(setting_aliases()) | import_time_variables()
    assert "AVATARFLOW_LOG_LEVEL" in known
    unknown = [name for name in globals_env() if name not in known]
    assert not unknown, f"no setting in chalicelib/config.py reads {unknown}"
    config = chalice_config()
    for scope in [config, *config["stages"].values()]:
        unknown = [name for name in scope.get("environment_variables", {}) if name not in known]
        assert not unknown, f".chalice/config.json sets {unknown}, which no setting reads"


def test_secrets_are_noecho_parameters_and_never_in_the_chalice_config() -> None:
    secret_names = {name for name, annotation in setting_aliases().items() if is_secret(annotation)}
    parameters = template()["Parameters"]
    env = globals_env()
    undeployable = sorted(secret_names - set(env))
    assert not undeployable, (
        f"secrets no deployed stage can be given (add a NoEcho parameter): {undeployable}"
    )
    for name in secret_names:
        value = env[name]
        assert isinstance(value, dict) and list(value) == ["Ref"], f"{name} must come from a parameter"
        assert parameters[value["Ref"]].get("NoEcho") is True, f"{name}: parameter {value['Ref']} echoes"
    config = chalice_config()
    for scope in [config, *config["stages"].values()]:
        leaked = secret_names & set(scope.get("environment_variables", {}))
        assert not leaked, f".chalice/config.json must not carry secrets: {sorted(leaked)}"
    # The secrets whose absence would make a deployed stage unsafe or half-configured have no default.
    for required in ("JwtSecret", "AdminToken", "ApiKeyPepper", "UpstashRedisRestToken", "R2SecretAccessKey"):
        assert "Default" not in parameters[required], required


# --- Terraform ----------------------------------------------------------------------------------


def hcl_block(text: str, header: str) -> str:
    """The body of the first block whose header matches (a regular expression), braces balanced."""
    match = re.search(header + r"\s*\{", text)
    assert match, f"no block {header!r}"
    depth, start = 0, match.end() - 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    raise AssertionError(f"unbalanced block {header!r}")


def list_items(body: str, attribute: str) -> list[str]:
    """The objects of a list attribute (``rules = [{...}, {...}]``), each as its own text."""
    match = re.search(rf"\b{attribute}\s*=\s*\[", body)
    assert match, f"no list {attribute!r}"
    items, depth, start = [], 0, 0
    for index in range(match.end(), len(body)):
        char = body[index]
        if char == "{":
            depth += 1
            if depth == 1:
                start = index
        elif char == "}":
            depth -= 1
            if depth == 0:
                items.append(body[start : index + 1])
        elif char == "]" and depth == 0:
            return items
    raise AssertionError(f"unbalanced list {attribute!r}")


def terraform_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(TERRAFORM.glob("*.tf")))


def test_r2_lifecycle_expires_unchosen_generations_and_photos_only() -> None:
    lifecycle = hcl_block(terraform_text(), r'resource\s+"cloudflare_r2_bucket_lifecycle"\s+"\w+"')
    rules = list_items(lifecycle, "rules")
    assert rules
    deleting = [rule for rule in rules if "delete_objects_transition" in rule]
    assert len(deleting) == 2
    assert [re.findall(r'prefix\s*=\s*"([^"]*)"', rule) for rule in deleting] == [["img/"], ["uploads/"]]
    assert re.search(r"max_age\s*=\s*var\.unchosen_generation_days\s*\*\s*86400", deleting[0])
    # Uploaded photos (biometric data): the service's AVATARFLOW_PHOTO_RETENTION_HOURS, 24 by default.
    assert re.search(r"max_age\s*=\s*var\.photo_retention_hours\s*\*\s*3600", deleting[1])
    hours = hcl_block(terraform_text(), r'variable\s+"photo_retention_hours"')
    from chalicelib.config import Settings

    assert re.search(r"default\s*=\s*24\b", hours) and Settings().photo_retention_hours == 24
    for rule in rules:
        # No other rule deletes or moves objects; the rest only aborts unfinished multipart uploads.
        if rule not in deleting:
            assert "storage_class_transitions" not in rule
            assert "abort_multipart_uploads_transition" in rule
        assert "pinned/" not in rule and "gallery/" not in rule
    days = hcl_block(terraform_text(), r'variable\s+"unchosen_generation_days"')
    assert re.search(r"default\s*=\s*30\b", days)
    # The prefixes the service writes: the gallery is under gallery/, never expired.
    assert MANIFEST_KEY.startswith("gallery/")


def test_records_are_kept_as_long_as_the_r2_lifecycle_keeps_their_images() -> None:
    """AVATARFLOW_RETENTION_DAYS (records) and unchosen_generation_days (img/ objects): one default."""
    from chalicelib.config import Settings

    days = hcl_block(terraform_text(), r'variable\s+"unchosen_generation_days"')
    terraform_default = int(re.search(r"default\s*=\s*(\d+)", days).group(1))  # type: ignore[union-attr]
    parameter = template()["Parameters"]["RetentionDays"]
    assert terraform_default == parameter["Default"] == Settings().retention_days == 30
    env = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["AVATARFLOW_RETENTION_DAYS"] == {"Ref": "RetentionDays"}


def test_terraform_pins_its_providers_and_hides_the_redis_token() -> None:
    text = terraform_text()
    providers = hcl_block(text, r"required_providers")
    for source in ("cloudflare/cloudflare", "upstash/upstash"):
        block = hcl_block(providers, rf"\b{source.split('/')[0]}\s*=")
        assert f'source  = "{source}"' in block
        assert re.search(r'version\s*=\s*"~>\s*\d+\.\d+"', block), source
    token = hcl_block(text, r'output\s+"upstash_redis_rest_token"')
    assert re.search(r"sensitive\s*=\s*true", token)
    assert re.search(r"eviction\s*=\s*false", hcl_block(text, r'resource\s+"upstash_redis_database"\s+"\w+"'))
    assert "upstash_redis_rest_url" in text


def test_gateway_answers_use_the_contract_error_shape() -> None:
    """API Gateway's own answers (unknown route, throttling, its 5xx) speak the contract too."""
    gateway = {
        spec["Properties"]["ResponseType"]: spec["Properties"]
        for spec in resources().values()
        if spec.get("Type") == "AWS::ApiGateway::GatewayResponse"
    }
    assert set(gateway) >= {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"}
    assert gateway["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert gateway["THROTTLED"]["ResponseParameters"]["gatewayresponse.header.Retry-After"]
    for properties in gateway.values():
        assert properties["RestApiId"] == ref("RestAPI")
        body = json.loads(properties["ResponseTemplates"]["application/json"])
        assert set(body["error"]) == {"code", "message"}


# --- the real-time status API (WebSocket) ---------------------------------------------------------


def test_functions_get_the_websocket_url_of_the_api_chalice_generates() -> None:
    env = globals_env()
    url = env["AVATARFLOW_WEBSOCKET_URL"]
    assert list(url) == ["Fn::Sub"]
    # Only the API's id: a reference to its stage would close a cycle through the handler functions.
    assert "${WebsocketAPI}" in url["Fn::Sub"] and "WebsocketAPIStage" not in url["Fn::Sub"]
    for stage in deployed_stages():
        assert url["Fn::Sub"].endswith("/" + chalice_config()["stages"][stage]["api_gateway_stage"])
    assert template()["Outputs"]["WebsocketURL"]["Value"] == url


def test_websocket_handlers_are_short_functions_within_api_gateways_limits() -> None:
    for stage in deployed_stages():
        for function in ("websocket_connect", "websocket_message", "websocket_disconnect"):
            timeout = function_setting(stage, function, "lambda_timeout")
            assert isinstance(timeout, int) and timeout <= 29, f"{stage}: {function}"


# --- CORS: one list of origins for the API, its gateway answers and the images ------------------


def cfn_value(value: Any, parameters: dict[str, str]) -> Any:
    """The value of the few intrinsics the gateway responses use, for these parameter values."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return parameters[argument]
        if name == "Fn::Split":
            return cfn_value(argument[1], parameters).split(argument[0])
        if name == "Fn::Select":
            return cfn_value(argument[1], parameters)[int(argument[0])]
        if name == "Fn::Sub":
            text, variables = argument if isinstance(argument, list) else (argument, {})
            for key, inner in variables.items():
                text = text.replace("${" + key + "}", cfn_value(inner, parameters))
            return text
    assert isinstance(value, str), f"unsupported intrinsic {value!r}"
    return value


def gateway_responses() -> dict[str, dict[str, Any]]:
    return {
        logical_id: spec["Properties"]
        for logical_id, spec in resources().items()
        if spec.get("Type") == "AWS::ApiGateway::GatewayResponse"
    }


CORS_EXAMPLES = {  # CorsOrigins -> is it valid
    "*": True,
    "https://www.example.com": True,
    "https://www.example.com,https://app.example.com:8443,http://localhost:3000": True,
    "": False,
    "https://www.example.com,*": False,
    "*,https://www.example.com": False,
    "https://www.example.com/": False,
    "https://www.example.com/app": False,
    "https://www.example.com, https://app.example.com": False,
    "www.example.com": False,
}


def test_the_functions_get_the_origins_from_one_parameter() -> None:
    parameter = template()["Parameters"]["CorsOrigins"]
    assert "Default" not in parameter, "each deployment states its origins"
    assert globals_env()["AVATARFLOW_CORS_ORIGINS"] == ref("CorsOrigins")
    for stage in deployed_stages():
        # A function's own variable (Chalice's, from the config) would win over the Globals one.
        assert "AVATARFLOW_CORS_ORIGINS" not in chalice_config()["stages"][stage].get(
            "environment_variables", {}
        )
        assert "AVATARFLOW_CORS_ORIGINS" not in chalice_config().get("environment_variables", {})
    pattern = re.compile(parameter["AllowedPattern"])
    for value, valid in CORS_EXAMPLES.items():
        assert bool(pattern.fullmatch(value)) is valid, value
        if valid:  # what the service makes of it (config.py)
            origins = Settings(cors_origins=value).cors_origin_list
            assert origins == value.split(","), value


@pytest.mark.parametrize("origins", [value for value, valid in CORS_EXAMPLES.items() if valid])
def test_gateway_answers_allow_the_configured_origin_not_any(origins: str) -> None:
    """A gateway response's headers are static: "*" only where "*" is configured, else the first
    configured origin (the others are documented in docs/deploy.md)."""
    expected = "*" if origins == "*" else origins.split(",", maxsplit=1)[0]
    responses = gateway_responses()
    assert responses
    for logical_id, properties in responses.items():
        header = properties["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        assert cfn_value(header, {"CorsOrigins": origins}) == f"'{expected}'", logical_id
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "Access-Control-Allow-Origin: \"'*'\"" not in text


def test_r2_lets_the_configured_origins_read_images() -> None:
    text = terraform_text()
    cors = hcl_block(text, r'resource\s+"cloudflare_r2_bucket_cors"\s+"\w+"')
    assert re.search(r"bucket_name\s*=\s*cloudflare_r2_bucket\.images\.name", cors)
    rules = list_items(cors, "rules")
    assert len(rules) == 1
    rule = rules[0]
    assert re.findall(r"methods\s*=\s*\[([^\]]*)\]", rule) == ['"GET", "HEAD"'], "read-only"
    assert re.search(r"origins\s*=\s*var\.cors_origins\b", rule)
    exposed = re.search(r"expose_headers\s*=\s*\[([^\]]*)\]", rule)
    assert exposed and '"ETag"' in exposed.group(1)
    variable = hcl_block(text, r'variable\s+"cors_origins"')
    assert re.search(r"type\s*=\s*list\(string\)", variable)
    assert "default" not in variable, "each stage states its origins"
    output = hcl_block(text, r'output\s+"cors_origins"')
    assert re.search(r'value\s*=\s*join\(",",\s*var\.cors_origins\)', output)
    assert "cors_origins" in (TERRAFORM / "example.tfvars").read_text(encoding="utf-8")


def test_terraform_and_the_template_accept_the_same_origins() -> None:
    """Terraform's output is the template's parameter: what one accepts, the other does too."""
    variable = hcl_block(terraform_text(), r'variable\s+"cors_origins"')
    found = re.search(r'regex\("([^"]+)"', variable)
    assert found, "the cors_origins validation checks each origin with a regex"
    origin = re.compile(found.group(1).replace("\\\\", "\\"))
    parameter = re.compile(template()["Parameters"]["CorsOrigins"]["AllowedPattern"])
    for value in CORS_EXAMPLES:
        origins = value.split(",")
        # variables.tf: "*" alone, or every item an origin.
        terraform_ok = origins == ["*"] or (bool(value) and all(origin.fullmatch(o) for o in origins))
        assert terraform_ok == bool(parameter.fullmatch(value)), value


# --- edge protection: the API stage's throttle and the API function's concurrency -------------

# Each in-request generation the API function has in flight may be paid for after the spend guard
# trips (it was admitted before): at most this share of the stage's daily budget (docs/deploy.md).
BUDGET_SHARE_IN_FLIGHT = 0.2
# A request holds its function about this long on average (a cache hit or the gallery takes
# milliseconds, an in-request generation seconds): the steady rate times it must fit the function.
AVERAGE_API_SECONDS = 1.0


@cache
def packaged_template(stage: str) -> dict[str, Any]:
    """What `chalice package --stage <stage> --merge-template resources.yml` writes (sam.yaml), built
    in-process the way chalice builds it, without the deployment zip (no dependency download)."""
    import botocore.session
    from chalice.awsclient import TypedAWSClient
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder
    from chalice.deploy.deployer import (
        BaseDeployStep,
        BuildStage,
        InjectDefaults,
        LambdaEventSourcePolicyInjector,
        PolicyGenerator,
        SwaggerBuilder,
        WebsocketPolicyInjector,
    )
    from chalice.deploy.swagger import CFNSwaggerGenerator
    from chalice.package import (
        PackageOptions,
        ResourceBuilder,
        SAMTemplateGenerator,
        TemplateDeepMerger,
        YAMLTemplateSerializer,
    )
    from chalice.policy import AppPolicyGenerator
    from chalice.utils import OSUtils

    class NamedZip(BaseDeployStep):
        def handle_deploymentpackage(self, config: Any, resource: Any) -> None:
            if isinstance(resource.filename, models.Placeholder):
                resource.filename = "deployment.zip"

    config = CLIFactory(project_dir=str(ROOT)).create_config_obj(chalice_stage_name=stage)
    osutils = OSUtils()
    build = BuildStage(
        steps=[
            InjectDefaults(),
            NamedZip(),
            PolicyGenerator(policy_gen=AppPolicyGenerator(osutils=osutils), osutils=osutils),
            SwaggerBuilder(swagger_generator=CFNSwaggerGenerator()),
            LambdaEventSourcePolicyInjector(),
            WebsocketPolicyInjector(),
        ]
    )
    built = ResourceBuilder(ApplicationGraphBuilder(), DependencyBuilder(), build).construct_resources(
        config, stage
    )
    session = botocore.session.get_session()
    session.set_config_variable("region", "us-east-1")
    generated = SAMTemplateGenerator(config, PackageOptions(TypedAWSClient(session))).generate(built)
    merge = YAMLTemplateSerializer().load_template(TEMPLATE.read_text(encoding="utf-8"), str(TEMPLATE))
    merged = TemplateDeepMerger().merge(merge, generated)
    assert isinstance(merged, dict)
    return merged


def most_expensive_image_usd() -> float:
    """The dearest image a request can buy at 1024 px: every listed model (photo models included),
    OpenAI's at the qualities its adapter sends. The table also prices GPT Image qualities the
    adapter never asks for, and a wildcard that over-counts an unpriced model: neither is bought."""
    from chalicelib.adapters.providers.openai import OPENAI_QUALITIES, OPENAI_SIZE
    from chalicelib.adapters.providers.photo_prices import PHOTO_PRICES
    from chalicelib.adapters.providers.pricing import DEFAULT_PRICES, WILDCARD

    openai_bought = {
        f"gpt-image-1 {quality} {OPENAI_SIZE}x{OPENAI_SIZE}" for quality in OPENAI_QUALITIES.values()
    }
    return max(
        price.cost(1024, 1024)
        for table in (DEFAULT_PRICES, PHOTO_PRICES)
        for provider, models in table.items()
        for model, price in models.items()
        if model != WILDCARD and (provider != "openai" or model in openai_bought)
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_api_stage_is_throttled_by_two_parameters(stage: str) -> None:
    packaged = packaged_template(stage)
    parameters = packaged["Parameters"]
    for name in ("ApiThrottleRateLimit", "ApiThrottleBurstLimit"):
        assert parameters[name]["Type"] == "Number", name
        assert parameters[name]["Default"] >= 1 and parameters[name]["MinValue"] >= 1, name
    api = packaged["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["StageName"] == "v1api"
    assert api["Properties"]["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": ref("ApiThrottleRateLimit"),
            "ThrottlingBurstLimit": ref("ApiThrottleBurstLimit"),
        }
    ]
    # Past the throttle the gateway's own 429 answers, in the contract's shape, with Retry-After.
    throttled = packaged["Resources"]["ThrottledResponse"]["Properties"]
    assert (
        throttled["StatusCode"] == "429"
        and "gatewayresponse.header.Retry-After" in throttled["ResponseParameters"]
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_api_function_has_a_reserved_concurrency_tied_to_the_budget(stage: str) -> None:
    reserved = packaged_template(stage)["Resources"]["APIHandler"]["Properties"][
        "ReservedConcurrentExecutions"
    ]
    assert reserved == function_setting(stage, "api_handler", "reserved_concurrency")
    budget = float(chalice_config()["stages"][stage]["environment_variables"]["AVATARFLOW_DAILY_BUDGET_USD"])
    # Every in-request generation in flight when the spend guard trips is still paid for.
    assert reserved * most_expensive_image_usd() <= BUDGET_SHARE_IN_FLIGHT * budget, (stage, reserved, budget)
    assert reserved >= 10, "room for the cheap traffic (gallery, cache hits) besides generations"


def test_the_throttle_defaults_fit_the_api_functions_concurrency() -> None:
    parameters = template()["Parameters"]
    rate, burst = (parameters[name]["Default"] for name in ("ApiThrottleRateLimit", "ApiThrottleBurstLimit"))
    prod = function_setting("prod", "api_handler", "reserved_concurrency")
    # A full burst fits the function: it is never a Lambda throttle (API Gateway's 500), always the
    # gateway's own 429. The steady rate fits it too.
    assert burst <= prod and rate * AVERAGE_API_SECONDS <= prod, (rate, burst, prod)
    # Dev's smaller concurrency takes smaller limits: docs/deploy.md gives them, and they fit.
    dev = function_setting("dev", "api_handler", "reserved_concurrency")
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    found = re.search(r"put_value ApiThrottleRateLimit (\d+); put_value ApiThrottleBurstLimit (\d+)", deploy)
    assert found, "docs/deploy.md gives dev's throttle"
    dev_rate, dev_burst = int(found[1]), int(found[2])
    assert dev_burst <= dev and dev_rate * AVERAGE_API_SECONDS <= dev
