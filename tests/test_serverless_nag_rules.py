"""Tests for the RedshiftServerless cdk-nag pack: each rule passes a compliant resource and reports a
non-compliant one by its construct path, and an acknowledgement lets synthesis through.

A jsii app costs seconds, so the module builds three: one fully compliant stack (checked with
``validate_scope``, no synth), one stack whose every resource breaks exactly one rule (checked with
``validate_scope`` and with a real ``app.synth()``), and one stack with an acknowledged finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as rss

from redshift_idc.cdk.components.serverless_nag_rules import (
    PACK_NAME,
    RSS1_NAMESPACE_CMK,
    RSS2_NAMESPACE_LOG_EXPORTS,
    RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD,
    RSS4_WORKGROUP_NOT_PUBLIC,
    RSS5_WORKGROUP_REQUIRE_SSL,
    RSS6_WORKGROUP_USER_ACTIVITY_LOGGING,
    RULE_IDS,
    RedshiftServerlessChecks,
    acknowledgement_id,
)

ALL_LOGS = ["connectionlog", "userlog", "useractivitylog"]
SOME_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _param(key: str, value: str) -> rss.CfnWorkgroup.ConfigParameterProperty:
    return rss.CfnWorkgroup.ConfigParameterProperty(parameter_key=key, parameter_value=value)


def _boolean_token(value: bool) -> str:
    """A string-typed token that resolves to a real boolean.

    The rules accept boolean config parameter values, but CDK's own prop validator rejects them when
    the template is rendered ("should be a string"), so only stacks that are never synthesized use it.
    """
    return cdk.Token.as_string(cdk.Token.as_any(value))


SECURE_PARAMS = [_param("require_ssl", "true"), _param("enable_user_activity_logging", "true")]


def _namespace(scope: Any, cid: str, **overrides: Any) -> rss.CfnNamespace:
    """A namespace compliant with RSS1-3 unless `overrides` break it (None removes a prop)."""
    props: dict[str, Any] = {
        "namespace_name": cid.lower(),
        "kms_key_id": SOME_KEY_ARN,
        "log_exports": ALL_LOGS,
        "manage_admin_password": True,
    }
    props.update(overrides)
    return rss.CfnNamespace(scope, cid, **{k: v for k, v in props.items() if v is not None})


def _workgroup(scope: Any, cid: str, **overrides: Any) -> rss.CfnWorkgroup:
    """A workgroup compliant with RSS4-6 unless `overrides` break it (None removes a prop)."""
    props: dict[str, Any] = {"workgroup_name": cid.lower(), "config_parameters": SECURE_PARAMS}
    props.update(overrides)
    return rss.CfnWorkgroup(scope, cid, **{k: v for k, v in props.items() if v is not None})


def _violations(report: Any) -> dict[str, set[str]]:
    """Rule id -> construct paths of the resources `validate_scope` reported for it."""
    return {v.rule_name: {r.construct_path for r in v.violating_resources} for v in report.violations}


@dataclass
class Built:
    app: cdk.App
    outdir: Path
    pack: RedshiftServerlessChecks
    report: Any  # PolicyValidationPluginReport from validate_scope


@pytest.fixture(scope="module")
def compliant(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Namespaces and workgroups that satisfy every rule, written the different ways allowed."""
    outdir = tmp_path_factory.mktemp("compliant")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Compliant")
    key = kms.Key(stack, "Key")
    # A key ARN token (Fn::GetAtt) counts as a customer-managed key; log order does not matter.
    _namespace(stack, "NsTokenKey", kms_key_id=key.key_arn, log_exports=list(reversed(ALL_LOGS)))
    _namespace(stack, "NsLiteralKey", manage_admin_password=cdk.Token.as_any(True))
    # Absent publicly_accessible is private; flags as mixed-case strings and as real booleans.
    _workgroup(
        stack,
        "WgDefaultPrivacy",
        config_parameters=[_param("require_ssl", "TRUE"), _param("enable_user_activity_logging", "True")],
    )
    _workgroup(
        stack,
        "WgExplicitPrivate",
        publicly_accessible=False,
        config_parameters=[
            _param("max_query_execution_time", "3600"),
            # Booleans are accepted by the rules (this app is never synthesized, see _boolean_token).
            _param("require_ssl", _boolean_token(True)),
            _param("enable_user_activity_logging", _boolean_token(True)),
        ],
    )
    pack = RedshiftServerlessChecks(app)
    return Built(app, outdir, pack, pack.validate_scope(app))


# Construct id -> (the one rule it breaks, props that break it).
NON_COMPLIANT: dict[str, tuple[str, dict[str, Any]]] = {
    "NsNoKey": (RSS1_NAMESPACE_CMK, {"kms_key_id": None}),
    "NsNoLogs": (RSS2_NAMESPACE_LOG_EXPORTS, {"log_exports": None}),
    "NsNoActivityLog": (RSS2_NAMESPACE_LOG_EXPORTS, {"log_exports": ["connectionlog", "userlog"]}),
    "NsLiteralPassword": (
        RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD,
        {"manage_admin_password": None, "admin_username": "admin", "admin_user_password": "Not-a-secret-1"},
    ),
    "NsManagedPlusPassword": (
        RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD,
        {"admin_username": "admin", "admin_user_password": "Not-a-secret-1"},
    ),
    "NsUnmanagedPassword": (RSS3_NAMESPACE_MANAGED_ADMIN_PASSWORD, {"manage_admin_password": False}),
    "WgPublic": (RSS4_WORKGROUP_NOT_PUBLIC, {"publicly_accessible": True}),
    "WgPublicToken": (RSS4_WORKGROUP_NOT_PUBLIC, {"publicly_accessible": cdk.Token.as_any(True)}),
    # A condition cannot be evaluated at synth time, so the workgroup cannot be shown to be private.
    "WgMaybePublic": (
        RSS4_WORKGROUP_NOT_PUBLIC,
        {"publicly_accessible": cdk.Fn.condition_if("IsPublic", True, False)},
    ),
    "WgSslOff": (
        RSS5_WORKGROUP_REQUIRE_SSL,
        {
            "config_parameters": [
                _param("require_ssl", "false"),
                _param("enable_user_activity_logging", "true"),
            ]
        },
    ),
    "WgSslMissing": (
        RSS5_WORKGROUP_REQUIRE_SSL,
        {"config_parameters": [_param("enable_user_activity_logging", "true")]},
    ),
    "WgActivityLogOff": (
        RSS6_WORKGROUP_USER_ACTIVITY_LOGGING,
        {
            "config_parameters": [
                _param("require_ssl", "true"),
                _param("enable_user_activity_logging", "FALSE"),
            ]
        },
    ),
    "WgActivityLogMissing": (
        RSS6_WORKGROUP_USER_ACTIVITY_LOGGING,
        {"config_parameters": [_param("require_ssl", "true")]},
    ),
}
NON_COMPLIANT_STACK = "NonCompliant"


def _expected_paths(rule_id: str) -> set[str]:
    return {f"{NON_COMPLIANT_STACK}/{cid}" for cid, (rule, _) in NON_COMPLIANT.items() if rule == rule_id}


@pytest.fixture(scope="module")
def non_compliant(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One resource per entry of NON_COMPLIANT, each breaking exactly its rule."""
    outdir = tmp_path_factory.mktemp("non_compliant")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, NON_COMPLIANT_STACK)
    account_is_demo = cdk.Fn.condition_equals(cdk.Aws.ACCOUNT_ID, "111122223333")
    cdk.CfnCondition(stack, "IsPublic", expression=account_is_demo)
    for cid, (_rule_id, props) in NON_COMPLIANT.items():
        build = _namespace if cid.startswith("Ns") else _workgroup
        build(stack, cid, **props)
    pack = RedshiftServerlessChecks(app)
    return Built(app, outdir, pack, pack.validate_scope(app))


@pytest.fixture(scope="module")
def non_compliant_synth(non_compliant: Built) -> tuple[RuntimeError, dict[str, Any]]:
    """Synthesize the non-compliant app with the pack registered: the error and the JSON report."""
    cdk.Validations.of(non_compliant.app).add_plugins(non_compliant.pack)
    with pytest.raises(RuntimeError, match="ValidationFailed") as excinfo:
        non_compliant.app.synth()
    return excinfo.value, json.loads((non_compliant.outdir / "validation-report.json").read_text())


def _plugin_report(report_json: dict[str, Any]) -> dict[str, Any]:
    ours: list[dict[str, Any]] = [r for r in report_json["pluginReports"] if r["pluginName"] == PACK_NAME]
    assert len(ours) == 1
    return ours[0]


def _report_paths(entries: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Rule id -> construct paths, from violations or suppressedViolations of the JSON report."""
    paths: dict[str, set[str]] = {}
    for entry in entries:
        paths.setdefault(entry["ruleName"], set()).update(
            c["constructPath"] for c in entry["violatingConstructs"]
        )
    return paths


def test_pack_identity() -> None:
    pack = RedshiftServerlessChecks()
    assert pack.name == PACK_NAME == "RedshiftServerless"
    assert list(RULE_IDS) == [f"{PACK_NAME}-RSS{n}" for n in range(1, 7)]


def test_compliant_stack_has_no_findings(compliant: Built) -> None:
    checked = [c for c in compliant.app.node.find_all() if isinstance(c, rss.CfnNamespace | rss.CfnWorkgroup)]
    assert len(checked) == 4  # the compliant cases are really there to be checked
    assert compliant.report.success
    assert compliant.report.violations == []


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_passes_compliant_resources(compliant: Built, rule_id: str) -> None:
    assert rule_id not in _violations(compliant.report)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_reports_exactly_its_non_compliant_resources(non_compliant: Built, rule_id: str) -> None:
    violation = next(v for v in non_compliant.report.violations if v.rule_name == rule_id)
    assert violation.severity == "error"
    assert violation.description  # the rule's info line
    # Every resource built to break this rule is reported, and no resource built to break another one.
    assert _violations(non_compliant.report)[rule_id] == _expected_paths(rule_id)


def test_non_compliant_stack_reports_nothing_else(non_compliant: Built) -> None:
    assert not non_compliant.report.success
    assert set(_violations(non_compliant.report)) == set(RULE_IDS)


def test_synth_fails_and_reports_every_violation(
    non_compliant: Built, non_compliant_synth: tuple[RuntimeError, dict[str, Any]]
) -> None:
    error, report_json = non_compliant_synth
    assert "validation-report.json" in str(error)
    ours = _plugin_report(report_json)
    assert ours["conclusion"] == "failure"
    assert _report_paths(ours["violations"]) == {rule_id: _expected_paths(rule_id) for rule_id in RULE_IDS}


def test_verbose_pack_appends_the_explanation(non_compliant: Built) -> None:
    terse = {v.rule_name: v.description for v in non_compliant.report.violations}
    verbose_pack = RedshiftServerlessChecks(verbose=True)
    verbose = {v.rule_name: v.description for v in verbose_pack.validate_scope(non_compliant.app).violations}
    assert set(verbose) == set(terse) == set(RULE_IDS)
    for rule_id in RULE_IDS:
        assert verbose[rule_id].startswith(terse[rule_id])
        assert len(verbose[rule_id]) > len(terse[rule_id]) + 40, rule_id


@pytest.fixture(scope="module")
def acknowledged(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A workgroup whose only finding (RSS4, public) is acknowledged on the workgroup itself."""
    outdir = tmp_path_factory.mktemp("acknowledged")
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Acknowledged")
    workgroup = _workgroup(stack, "WgPublic", publicly_accessible=True)
    cdk.Validations.of(workgroup).acknowledge(
        cdk.Acknowledgment(id=acknowledgement_id(RSS4_WORKGROUP_NOT_PUBLIC), reason="Reviewed: demo endpoint")
    )
    pack = RedshiftServerlessChecks(app)
    report = pack.validate_scope(app)
    cdk.Validations.of(app).add_plugins(pack)
    return Built(app, outdir, pack, report)


def test_acknowledgement_id_rejects_foreign_rules() -> None:
    with pytest.raises(ValueError, match="not a rule"):
        acknowledgement_id("AwsSolutions-RS1")


def test_acknowledged_rule_no_longer_fails_synth(acknowledged: Built) -> None:
    # Without the acknowledgement this workgroup fails synth (as WgPublic does in the non-compliant
    # stack); the pack still finds it, CDK's validation step applies the acknowledgement.
    assert _violations(acknowledged.report) == {RSS4_WORKGROUP_NOT_PUBLIC: {"Acknowledged/WgPublic"}}
    acknowledged.app.synth()  # must not raise

    ours = _plugin_report(json.loads((acknowledged.outdir / "validation-report.json").read_text()))
    assert ours["conclusion"] == "success"
    assert ours["violations"] == []
    [suppressed] = ours["suppressedViolations"]
    assert suppressed["ruleName"] == RSS4_WORKGROUP_NOT_PUBLIC
    assert suppressed["acknowledgedId"] == acknowledgement_id(RSS4_WORKGROUP_NOT_PUBLIC)
    assert suppressed["reason"] == "Reviewed: demo endpoint"
    assert [c["constructPath"] for c in suppressed["violatingConstructs"]] == ["Acknowledged/WgPublic"]
