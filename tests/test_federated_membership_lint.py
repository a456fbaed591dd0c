"""`federated-membership-function`: every RLS or masking policy whose parsed expression calls a membership function
is named (policy, position, function, the AWS page) when the environment registers its namespace; nothing without
federated permissions, and nothing for a name that is not a call."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.checked import checked_model
from redshift_idc.access.federated_lints import CODE, federated_membership_lints
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cli.main import main as cli
from redshift_idc.config.environment import load_environment
from tests.conftest import run_captured

ROOT = Path(__file__).resolve().parents[1]


def model(rls: Sequence[str] = (), masking: Sequence[str] = ()) -> AccessModel:
    document: dict[str, Any] = {
        "name": "lake",
        "tables": {"public.orders": ["region", "customer_email", "user_is_member_of_flag"]},
        "rls": {"policies": [{"name": f"rls_{i}", "with": {"region": "VARCHAR(16)"}, "using": using}
                             for i, using in enumerate(rls)]},
        "masking": {"policies": [{"name": f"mask_{i}", "with": {"customer_email": "VARCHAR(256)"}, "using": using}
                                 for i, using in enumerate(masking)]},
    }
    return AccessModel.model_validate(document)


@pytest.mark.parametrize("function", ["user_is_member_of", "USER_IS_MEMBER_OF", "pg_catalog.user_is_member_of"])
def test_an_rls_policy_calling_user_is_member_of_is_named(function: str) -> None:
    lints = federated_membership_lints(model(rls=[f"{function}(current_user, 'sales') OR region = 'EU'"]),
                                       federated=True, environment="lake")
    assert [lint.code for lint in lints] == [CODE]
    message = lints[0].message
    assert message.startswith("access/lake.yaml: rls.policies[0]: RLS policy rls_0 calls ")
    assert "config/lake.yaml registers the namespace" in message
    assert "federated-permissions-considerations" in message and "allow_warnings" in message


def test_every_policy_is_named_once_each_with_its_functions() -> None:
    lints = federated_membership_lints(model(
        rls=["region = 'EU'", "role_is_member_of('sales', 'analysts') AND role_is_member_of('x', 'y')"],
        masking=["CASE WHEN user_is_member_of_role(current_user, 'pii') THEN customer_email ELSE '***' END"],
    ), federated=True, environment="lake")
    assert [lint.message.split(":")[1].strip() for lint in lints] == ["rls.policies[1]", "masking.policies[0]"]
    assert "calls role_is_member_of(), and" in lints[0].message
    assert "masking policy mask_0 calls user_is_member_of_role()" in lints[1].message


def test_nothing_without_federated_permissions() -> None:
    assert federated_membership_lints(model(rls=["user_is_member_of(current_user, 'sales')"]),
                                      federated=False, environment="lake") == []


@pytest.mark.parametrize("using", [
    "region = 'user_is_member_of(current_user, ''sales'')'",  # a string literal, not a call
    "user_is_member_of_flag = 1",  # a column whose name starts with the function's
    "region IN (SELECT region FROM security.entitlements WHERE user_name = current_user)",
])
def test_a_name_that_is_not_a_call_is_not_named(using: str) -> None:
    assert federated_membership_lints(model(rls=[using]), federated=True, environment="lake") == []


# ---------------------------------------------------------------------- on a project: validate, plan, allow_warnings

@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def _demo(copy: Path, *, federated: bool = True, allow: bool = False) -> None:
    """The demo with its first RLS policy testing a role membership (and without expectations, which the changed
    policy would no longer meet), registered with federated permissions unless not `federated`."""
    model_path, config_path = copy / "access" / "demo.yaml", copy / "config" / "demo.yaml"
    data: dict[str, Any] = yaml.safe_load(model_path.read_text(encoding="utf-8"))
    first = data["rls"]["policies"][0]
    first["using"] = f"user_is_member_of(current_user, 'AWSIDC:emea-sales') AND {first['using']}"
    data.pop("expect", None)
    if allow:
        data["allow_warnings"].append({"code": CODE, "reason": "this table is read on this warehouse only"})
    model_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    if federated:
        config: dict[str, Any] = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config["warehouse"]["federated_permissions"] = {"catalog_name": "sales-catalog"}
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def test_plan_shows_it_and_plan_strict_fails_on_it(copy: Path) -> None:
    _demo(copy)
    [lint] = checked_model(load_environment("demo")).lints
    assert lint.code == CODE
    assert lint.message.startswith("access/demo.yaml: rls.policies[0]: RLS policy ")
    assert "calls user_is_member_of(), and config/demo.yaml registers the namespace" in lint.message
    code, out, _ = run_captured(lambda: cli(["plan", "--env", "demo"]))
    assert code == 0 and f"-- warning: [{CODE}] access/demo.yaml: rls.policies[0]" in out
    code, _, err = run_captured(lambda: cli(["plan", "--env", "demo", "--strict"]))
    assert code == 1 and err.startswith(f"--strict: warning [{CODE}]: access/demo.yaml: rls.policies[0]"), err


def test_allow_warnings_accepts_it(copy: Path) -> None:
    _demo(copy, allow=True)
    checked = checked_model(load_environment("demo"))
    assert checked.lints == () and not any(CODE in w for w in checked.warnings)


def test_the_same_model_without_federated_permissions_has_no_lint(copy: Path) -> None:
    _demo(copy, federated=False)
    checked = checked_model(load_environment("demo"))
    assert checked.lints == () and not any(CODE in w for w in checked.warnings)
