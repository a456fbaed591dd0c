"""The access-model stack: one custom resource for the whole model, least-privilege reconciler role."""

from __future__ import annotations

import json
from typing import Any

from redshift_idc.access.model import load_model, load_scripts
from redshift_idc.config.environment import load_environment
from redshift_idc.config.warehouse import DEFAULT_ROLE_QUOTA
from redshift_idc.runtime import limits
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.reconcile_handler import model_document
from tests.conftest import Synthesized, only_resource, resources_of


def _reconciler_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [p for k, p in resources_of(template, "AWS::IAM::Policy").items() if k.startswith("AccessModelRole")]
    assert len(policies) == 1
    statements: list[dict[str, Any]] = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_one_custom_resource_with_the_model_as_an_asset(demo: Synthesized) -> None:
    template = demo.template_json("access")
    _, resource = only_resource(template, "Custom::AccessModel")
    props = resource["Properties"]
    assert props["WorkgroupName"] == "redshift-tip-enabled"
    assert props["Database"] == "dev"
    assert props["ModelName"] == "demo"
    assert props["Prune"] is False and props["RemovalPolicy"] == "destroy"
    assert props["ModelKey"] == f"{props['ModelHash']}.json"
    assert "Fn::ImportValue" in props["SecretArn"]  # the warehouse stack's looked-up admin secret ARN
    # The asset holds exactly the compiled model and its scripts.
    compiled = load_model("demo", demo.config)
    model, desired = compiled.model, compiled.desired
    asset = demo.outdir / f"asset.{props['ModelHash']}.json"
    assert asset.read_text() == model_document(desired, load_scripts(model), role_quota=DEFAULT_ROLE_QUOTA)
    assert json.loads(asset.read_text())["role_quota"] == demo.config.warehouse.role_quota == 1000  # the default
    assert AccessState.from_json(json.loads(asset.read_text())["desired"]).canonical_json() == desired.canonical_json()


def test_reconciler_role_is_scoped_to_this_workgroup_secret_key_and_model(demo: Synthesized) -> None:
    template = demo.template_json("access")
    statements = {tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s
                  for s in _reconciler_statements(template)}
    # Submitting statements, and asking whether the workgroup still exists (a Delete), on this workgroup only
    # (IAM policy minimization merges the two: the same resource).
    submit = statements[("redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement",
                         "redshift-serverless:GetWorkgroup")]
    assert "WorkgroupArn" in json.dumps(submit["Resource"])
    own = statements[("redshift-data:CancelStatement", "redshift-data:DescribeStatement",
                      "redshift-data:GetStatementResult")]
    assert own["Resource"] == "*"
    assert own["Condition"] == {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
    assert "AdminPasswordSecretArn" in json.dumps(statements[("secretsmanager:GetSecretValue",)]["Resource"])
    assert "EncryptionKey" in json.dumps(statements[("kms:Decrypt",)]["Resource"])
    _, resource = only_resource(template, "Custom::AccessModel")
    assert statements[("s3:GetObject",)]["Resource"].endswith(f"/{resource['Properties']['ModelKey']}")
    assert "NamespaceArn" in json.dumps(statements[("redshift-serverless:GetNamespace",)]["Resource"])
    assert set(statements) == {
        ("redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement", "redshift-serverless:GetWorkgroup"),
        ("redshift-data:CancelStatement", "redshift-data:DescribeStatement", "redshift-data:GetStatementResult"),
        ("redshift-data:ListStatements",), ("secretsmanager:GetSecretValue",), ("kms:Decrypt",), ("s3:GetObject",),
        ("logs:CreateLogStream", "logs:PutLogEvents"), ("redshift-serverless:GetNamespace",),
    }


def test_provider_polls_with_is_complete(demo: Synthesized) -> None:
    template = demo.template_json("access")
    handlers = sorted(f["Properties"]["Handler"] for f in resources_of(template, "AWS::Lambda::Function").values()
                      if f["Properties"]["Runtime"].startswith("python"))
    assert handlers == ["index.is_complete", "index.on_event"]
    assert len(resources_of(template, "AWS::StepFunctions::StateMachine")) == 1


def _waiter_retry(template: dict[str, Any]) -> dict[str, Any]:
    """The waiter state machine's retry of the is-complete task: its interval and attempts are the
    Provider's query interval and total timeout."""
    _, machine = only_resource(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))  # refs sit in strings
    retry: dict[str, Any] = next(state["Retry"][0] for state in definition["States"].values()
                                 if state.get("Retry") and state["Retry"][0].get("MaxAttempts", 0) > 10)
    return retry


def test_the_limits_agree_inside_cloudformations_hour(demo: Synthesized) -> None:
    """CloudFormation gives the custom resource at most 3,600 s (stated, not defaulted); the waiter's total
    timeout stays below it; the is-complete Lambda ends before the framework's own 900 s Lambda gives up,
    and its budget leaves room for one more Data API call at its worst."""
    template = demo.template_json("access")
    _, resource = only_resource(template, "Custom::AccessModel")
    assert int(resource["Properties"]["ServiceTimeout"]) == 3600
    retry = _waiter_retry(template)
    total = retry["IntervalSeconds"] * retry["MaxAttempts"]
    assert retry["IntervalSeconds"] == limits.PROVIDER_QUERY_INTERVAL_SECONDS
    assert total == limits.PROVIDER_TOTAL_TIMEOUT_SECONDS < 3600
    functions = {f["Properties"]["Handler"]: f["Properties"] for f in resources_of(template, "AWS::Lambda::Function")
                 .values() if f["Properties"]["Runtime"].startswith("py")}
    assert functions["index.is_complete"]["Timeout"] == limits.IS_COMPLETE_TIMEOUT_SECONDS < 900
    assert functions["index.is_complete"]["MemorySize"] == limits.HANDLER_MEMORY_MB
    # A call that long-polls answers after its wait at the latest: before the read timeout, so the worst case holds.
    assert 1 <= limits.DATA_API_WAIT_SECONDS < limits.DATA_API_READ_TIMEOUT_SECONDS
    worst_call = limits.DATA_API_MAX_ATTEMPTS * (limits.DATA_API_CONNECT_TIMEOUT_SECONDS
                                                 + limits.DATA_API_READ_TIMEOUT_SECONDS) + 7  # + botocore's backoff
    budget_end = limits.INVOCATION_BUDGET_SECONDS + limits.WAIT_GRACE_SECONDS
    assert budget_end + worst_call < limits.IS_COMPLETE_TIMEOUT_SECONDS
    assert limits.APPLY_ESTIMATE_LIMIT_SECONDS < limits.APPLY_WINDOW_SECONDS < limits.SERVICE_TIMEOUT_SECONDS
    assert resource["Properties"]["NamespaceName"] == demo.config.warehouse.namespace_name


def test_resource_count_does_not_grow_with_the_model(demo: Synthesized) -> None:
    """The model is data in an asset: CloudFormation sees one resource however many grants it holds."""
    counts = {t: len(resources_of(demo.template_json("access"), t)) for t in ("Custom::AccessModel",)}
    assert counts == {"Custom::AccessModel": 1}
    assert len(demo.template_json("access")["Resources"]) < 25


def test_environment_without_model_has_no_access_stack(sample: Synthesized) -> None:
    assert sample.config.access_model is None
    assert "access" not in sample.templates


def test_access_stack_reads_the_environment_model() -> None:
    assert load_environment("demo").access_model == "demo"
