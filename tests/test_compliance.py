"""cdk-nag, our Redshift Serverless pack, cfn-lint and determinism on every sample environment."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from redshift_idc.cdk.app import add_environment
from redshift_idc.cdk.app_start import new_app
from redshift_idc.config.environment import load_environment
from tests.conftest import Synthesized, synthesize

ENVIRONMENTS = ["demo", "sample"]


@pytest.mark.parametrize("which", ENVIRONMENTS)
def test_every_rule_pack_passes_with_only_reasoned_acknowledgements(which: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(which)
    report = synthesized.validation_report()
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    # A plugin with nothing to report (no finding, nothing acknowledged) is left out of the report.
    assert "AwsSolutions" in plugins
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], name
        for suppressed in plugin.get("suppressedViolations", []):
            # Acknowledged on the resource (or its own parent), never on the stack or the app.
            assert suppressed["acknowledgedAt"].count("/") >= 2, suppressed
            assert len(suppressed["reason"]) > 40, suppressed


def test_the_app_runs_our_serverless_pack(tmp_path: Path) -> None:
    """The environment's app fails synth when a workgroup turns public: the pack is wired in."""
    app = new_app(outdir=str(tmp_path))
    stack = add_environment(app, load_environment("demo"))["warehouse"]
    stack.workgroup.publicly_accessible = True  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert [v["ruleName"] for v in plugins["RedshiftServerless"]["violations"]] == ["RedshiftServerless-RSS4"]


def test_acknowledgements_are_the_expected_few(demo: Synthesized) -> None:
    """Each acknowledgement is a reviewed decision: a new one must be added here on purpose."""
    acknowledged = sorted(
        (s["ruleName"], s["acknowledgedAt"])
        for p in demo.validation_report()["pluginReports"] for s in p.get("suppressedViolations", [])
    )
    ours = [(rule, path) for rule, path in acknowledged if "Provider/" not in path]
    assert ours == sorted([
        ("AwsSolutions-IAM5[Resource::*]", "DemoAccess/AccessModel/Role/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::*]", "DemoIdentity/Propagation/ClientRole/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-0000000000000000/*]",
         "DemoIdentity/Propagation/ConfigRole/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:identitystore:::group/*]",
         "DemoWarehouse/DeployLookups/Role/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:sso::111111111111:application/ssoins-0000000000000000/*]",
         "DemoWarehouse/IdcApplication/Role/DefaultPolicy"),
        ("F3006", "DemoWarehouse/IdcApplication/Application"),
        ("W3010", "DemoWarehouse/Network/Vpc/warehouseSubnet1"),
        ("W3010", "DemoWarehouse/Network/Vpc/warehouseSubnet2"),
        ("W3010", "DemoWarehouse/Network/Vpc/warehouseSubnet3"),
    ])
    # CDK's Provider framework: its managed logging policy, its version-qualified invoke grants and
    # the waiter state machine (logging and tracing), nothing else.
    framework_rules = {rule.split("[")[0] for rule, path in acknowledged if "Provider/" in path}
    assert framework_rules == {"AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-SF1", "AwsSolutions-SF2"}
    assert all(rule.startswith("AwsSolutions-IAM5[Resource::<") and rule.endswith(".Arn>:*]")
               for rule, path in acknowledged if "Provider/" in path and rule.startswith("AwsSolutions-IAM5"))


@pytest.mark.parametrize("which", ENVIRONMENTS)
def test_cfn_lint_reports_no_errors(which: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(which)
    for path in sorted(synthesized.outdir.glob("*.template.json")):
        matches = lint(path.read_text(), config=ManualArgs(regions=[synthesized.config.region]))
        errors = [str(m) for m in matches if m.rule.id.startswith("E")]
        assert errors == [], path.name


def test_same_config_synthesizes_byte_identical_templates(demo: Synthesized, tmp_path: Path) -> None:
    again = synthesize(load_environment("demo"), tmp_path / "again")
    templates = sorted(p.name for p in demo.outdir.glob("*.template.json"))
    assert templates
    _match, mismatch, errors = filecmp.cmpfiles(demo.outdir, again.outdir, templates, shallow=False)
    assert (mismatch, errors) == ([], [])
    # The Lambda asset hash (content-addressed) is part of the template, so identical templates
    # also prove the staged asset content was identical.
    assets = json.loads((demo.outdir / "DemoWarehouse.assets.json").read_text())["files"]
    assert assets == json.loads((again.outdir / "DemoWarehouse.assets.json").read_text())["files"]


@pytest.mark.parametrize("environment", ["demo", "sample-all-paths", "sample-existing-vpc"])
def test_the_nist_pack_finds_nothing_unacknowledged(environment: str, tmp_path: Path) -> None:
    """`make synth NAG=nist`: cdk-nag's NIST 800-53 R5 pack on top of the two that always run. Every
    finding is acknowledged on its own Lambda or role, with the reason."""
    app = new_app(outdir=str(tmp_path), context={"nag": "nist"})
    add_environment(app, load_environment(environment))
    app.synth()  # raises ValidationFailed on an unacknowledged finding of any pack
    report = json.loads((tmp_path / "validation-report.json").read_text())
    nist = next(p for p in report["pluginReports"] if p["pluginName"].startswith("NIST.800.53.R5"))
    assert nist["violations"] == []
    rules = {s["ruleName"] for s in nist["suppressedViolations"]}
    assert rules == {"NIST.800.53.R5-IAMNoInlinePolicy", "NIST.800.53.R5-LambdaConcurrency",
                     "NIST.800.53.R5-LambdaDLQ", "NIST.800.53.R5-LambdaInsideVPC"}
    for suppressed in nist["suppressedViolations"]:
        assert suppressed["acknowledgedAt"].count("/") >= 2 and len(suppressed["reason"]) > 80, suppressed


def test_an_unknown_nag_pack_is_an_error(tmp_path: Path) -> None:
    from redshift_idc.config.errors import ConfigError

    app = new_app(outdir=str(tmp_path), context={"nag": "hipaa"})
    with pytest.raises(ConfigError, match="nag: unknown rule pack"):
        add_environment(app, load_environment("demo"))
