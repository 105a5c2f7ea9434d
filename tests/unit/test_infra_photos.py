"""infra/ for the photos (docs/photos.md): their private AWS S3 bucket, the photo-checks function
(the container image of infra/photos/Dockerfile) with its queue and DLQ, and the least privilege of
both roles. `make package` cfn-lints the merged template; these pin what a linter cannot know."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.uploads import UPLOADS_FOLDER
from tests.unit.test_infra import (
    ROOT,
    VISIBILITY_PER_TIMEOUT,
    chalice_config,
    deployed_stages,
    get_att,
    globals_env,
    packaged_template,
    ref,
    resources,
    template,
)

DOCKERFILE = ROOT / "infra" / "photos" / "Dockerfile"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(resource_id: str) -> list[dict[str, Any]]:
    properties = resources()[resource_id]["Properties"]
    if "PolicyDocument" in properties:
        statements = properties["PolicyDocument"]["Statement"]
    else:
        (policy,) = properties["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
    assert isinstance(statements, list)
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in _list(s["Action"])}


def test_the_photos_bucket_is_private_encrypted_and_unversioned() -> None:
    bucket = resources()["PhotosBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (sse,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # A deleted photo must be gone: no noncurrent versions.
    assert "VersioningConfiguration" not in properties
    policy = resources()["PhotosBucketPolicy"]["Properties"]
    assert policy["Bucket"] == ref("PhotosBucket")
    (tls,) = policy["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_photos_expire_after_the_retention_rounded_up_to_s3s_whole_days() -> None:
    rules = resources()["PhotosBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    assert len(expiring) == 1
    (rule,) = expiring
    assert rule["Status"] == "Enabled" and rule["Prefix"] == f"{UPLOADS_FOLDER}/"
    hours = Settings().photo_retention_hours
    assert hours == 24 and rule["ExpirationInDays"] == math.ceil(hours / 24) == 1
    # The template does not override the retention: every function uses the same 24 hours.
    assert "AVATARFLOW_PHOTO_RETENTION_HOURS" not in globals_env()


def test_the_website_may_post_the_form_to_the_photos_bucket() -> None:
    (cors,) = resources()["PhotosBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    assert cors["AllowedOrigins"] == {"Fn::Split": [",", ref("CorsOrigins")]}


def test_functions_get_the_photos_bucket_and_the_checks_queue() -> None:
    env = globals_env()
    assert env["AVATARFLOW_PHOTOS_BUCKET"] == ref("PhotosBucket")
    assert env["AVATARFLOW_QUEUE_URL_PHOTOS"] == ref("PhotoChecksQueue")


def test_the_checks_queue_has_a_dead_letter_queue_and_an_alarm() -> None:
    queue = resources()["PhotoChecksQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == get_att("PhotoChecksDeadLetterQueue", "Arn")
    assert 1 < redrive["maxReceiveCount"] <= 5
    assert queue["SqsManagedSseEnabled"] is True
    timeout = resources()["PhotoChecks"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= VISIBILITY_PER_TIMEOUT * timeout
    alarms = [
        r["Properties"]
        for r in resources().values()
        if r.get("Type") == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": get_att("PhotoChecksDeadLetterQueue", "QueueName")}]
    ]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 0
    assert alarms[0]["AlarmActions"] == [ref("OpsTopic")]


def test_the_photo_checks_function_is_the_dockerfiles_image_on_its_queue() -> None:
    function = resources()["PhotoChecks"]
    assert function["Type"] == "AWS::Serverless::Function"
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert properties["ImageUri"] == ref("PhotoChecksImageUri")
    assert "PhotoChecksImageUri" in template()["Parameters"]
    assert "Handler" not in properties and "Runtime" not in properties and "CodeUri" not in properties
    # The handler the Dockerfile names, and that the code has.
    cmd = re.search(r'^CMD \["([\w.]+)"\]', DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert cmd and properties["ImageConfig"]["Command"] == [cmd[1]]
    module, _, name = cmd[1].rpartition(".")
    assert callable(getattr(__import__(module, fromlist=[name]), name))
    # Sized for a 12 MP check: at least one full vCPU (1769 MB), a timeout for a cold start; the
    # cost model prices that memory.
    from costmodel.scenarios import Assumptions

    assert properties["MemorySize"] >= 1769 and 30 <= properties["Timeout"] <= 120
    assert properties["MemorySize"] == Assumptions().photo_checks_gb * 1024
    (event,) = properties["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == get_att("PhotoChecksQueue", "Arn")
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    mapping = {"Fn::FindInMap": ["PhotoChecksConcurrency", ref("Stage"), "Functions"]}
    assert properties["ReservedConcurrentExecutions"] == mapping
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == mapping
    for stage in deployed_stages():
        assert template()["Mappings"]["PhotoChecksConcurrency"][stage]["Functions"] >= 2  # SQS's minimum


def test_the_photo_checks_function_runs_the_same_stage_as_chalices_functions() -> None:
    env = resources()["PhotoChecks"]["Properties"]["Environment"]["Variables"]
    assert env["AVATARFLOW_STAGE"] == ref("Stage")
    for stage in deployed_stages():
        chalice_env = chalice_config()["stages"][stage]["environment_variables"]
        assert chalice_env["AVATARFLOW_STAGE"] == stage
        assert env["AVATARFLOW_DATA_DIR"] == chalice_env["AVATARFLOW_DATA_DIR"]


def test_the_photo_checks_image_runs_python_311_on_a_glibc_the_detectors_wheels_support() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    # Amazon Linux 2023 (glibc 2.34), not the python:3.11 image's Amazon Linux 2 (glibc 2.26): the
    # onnxruntime, NumPy and Pillow wheels of requirements-photos.txt need glibc 2.28.
    assert base == "public.ecr.aws/lambda/provided:al2023"
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])", text, re.M)
    assert entrypoint and json.loads(entrypoint[1]) == ["/usr/bin/python3.11", "-m", "awslambdaric"]
    assert re.search(r"--only-binary=:all:", text)  # a wheel for every package, never a source build


def test_the_photo_checks_role_reaches_only_its_queue_the_uploads_and_its_logs() -> None:
    role = resources()["PhotoChecks"]["Properties"]["Role"]
    assert role == get_att("PhotoChecksRole", "Arn")  # its own role, not Chalice's DefaultRole
    statements = _statements("PhotoChecksRole")
    assert all(s["Effect"] == "Allow" for s in statements)
    assert _actions(statements) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    for statement in statements:
        resource = json.dumps(statement["Resource"])
        assert '"*"' not in resource, statement
        actions = _list(statement["Action"])
        if any(a.startswith("sqs:") for a in actions):
            assert statement["Resource"] == get_att("PhotoChecksQueue", "Arn")
        if set(actions) & {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}:
            assert statement["Resource"] == {"Fn::Sub": "${PhotosBucket.Arn}/uploads/*"}
        if "s3:ListBucket" in actions:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": "uploads/*"}}


def test_the_api_may_sign_the_uploads_and_hand_them_to_the_checks() -> None:
    policy = resources()["PhotosAppPolicy"]["Properties"]
    assert policy["Roles"] == [ref("DefaultRole")]
    statements = _statements("PhotosAppPolicy")
    send = [s for s in statements if "sqs:SendMessage" in _list(s["Action"])]
    assert len(send) == 1 and send[0]["Resource"] == get_att("PhotoChecksQueue", "Arn")
    objects = [s for s in statements if "s3:PutObject" in _list(s["Action"])]
    # PutObject: S3 authorises the browser's form POST as the role that signed its policy.
    assert len(objects) == 1 and set(_list(objects[0]["Action"])) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    }
    assert objects[0]["Resource"] == {"Fn::Sub": "${PhotosBucket.Arn}/uploads/*"}


def test_the_outputs_name_the_photos_bucket_and_the_checks() -> None:
    outputs = template()["Outputs"]
    assert outputs["PhotosBucketName"]["Value"] == ref("PhotosBucket")
    assert outputs["PhotoChecksQueueUrl"]["Value"] == ref("PhotoChecksQueue")
    assert outputs["PhotoChecksDeadLetterQueueUrl"]["Value"] == ref("PhotoChecksDeadLetterQueue")
    assert outputs["PhotoChecksFunctionName"]["Value"] == ref("PhotoChecks")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_template_has_the_photo_checks_next_to_chalices_functions(stage: str) -> None:
    packaged = packaged_template(stage)
    function = packaged["Resources"]["PhotoChecks"]["Properties"]
    assert function["PackageType"] == "Image" and function["Role"] == get_att("PhotoChecksRole", "Arn")
    variables = packaged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AVATARFLOW_PHOTOS_BUCKET"] == ref("PhotosBucket")
    # Chalice's functions keep their zip package and their role.
    api = packaged["Resources"]["APIHandler"]["Properties"]
    assert api["Role"] == get_att("DefaultRole", "Arn") and "PackageType" not in api
