"""Several environments without copy-paste: `extends:` merging, bases that are never environments, and the
dev and prod samples, each synthesized once (nag-clean, cfn-lint clean)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint

from redshift_idc.cdk.deployer_policy import uncovered_types
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError, Origins
from redshift_idc.config.warehouse import CreatedVpc
from redshift_idc.config.yaml_files import CONFIG_DIR, available_environments, merge_layer, read_environment_layers
from tests.conftest import Synthesized, only_resource, synthesize

SAMPLES = ["dev", "prod", "sample-lakehouse", "sample-federated"]
DEMO: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text(encoding="utf-8"))


def write(directory: Path, name: str, data: Any) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(directory: Path, name: str) -> str:
    with pytest.raises(ConfigError) as raised:
        load_environment(name, config_dir=directory)
    return str(raised.value)


def split_demo(directory: Path) -> None:
    """The demo cut in two: `_base.yaml` (everything but the environment's own values) and `env.yaml`."""
    base = {k: v for k, v in DEMO.items() if k not in ("account", "tags")}
    write(directory, "_base", base)
    write(directory, "env", {"extends": "_base", "account": "333333333333", "tags": {"environment": "env"}})


# --- merging ----------------------------------------------------------------------------------------


def test_merge_mappings_recursively_lists_and_scalars_replace() -> None:
    merged: dict[str, Any] = {}
    origins: Origins = {}
    base, env = Path("_base.yaml"), Path("env.yaml")
    merge_layer(merged, {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": "x", "g": {"h": 1}}, base, origins)
    merge_layer(merged, {"a": {"c": [3], "d": {"k": 2}}, "f": None, "g": 5, "n": {"m": 1}}, env, origins)
    assert merged == {"a": {"b": 1, "c": [3], "d": {"e": 1, "k": 2}}, "f": None, "g": 5, "n": {"m": 1}}
    assert origins == {("a", "b"): base, ("a", "c"): env, ("a", "d", "e"): base, ("a", "d", "k"): env,
                       ("f",): env, ("g",): env, ("n", "m"): env}


def test_a_mapping_replacing_a_scalar_and_an_empty_mapping_merged_into() -> None:
    merged: dict[str, Any] = {}
    origins: Origins = {}
    merge_layer(merged, {"a": 1, "t": {}}, Path("b.yaml"), origins)
    assert origins == {("a",): Path("b.yaml"), ("t",): Path("b.yaml")}
    merge_layer(merged, {"a": {"x": 1}, "t": {"k": "v"}}, Path("e.yaml"), origins)
    assert merged == {"a": {"x": 1}, "t": {"k": "v"}}
    assert origins == {("a", "x"): Path("e.yaml"), ("t", "k"): Path("e.yaml")}


def test_an_environment_extending_a_base_gets_both(tmp_path: Path) -> None:
    split_demo(tmp_path)
    config = load_environment("env", config_dir=tmp_path)
    assert config.name == "env" and config.account == "333333333333"
    assert config.warehouse.workgroup_name == DEMO["warehouse"]["workgroup_name"]
    assert config.tags == {"environment": "env"}  # the base sets no tags here
    assert available_environments(tmp_path) == ["env"]


def test_chains_merge_in_order_and_lists_replace(tmp_path: Path) -> None:
    split_demo(tmp_path)
    write(tmp_path, "_base", {**yaml.safe_load((tmp_path / "_base.yaml").read_text()), "extends": "_root"})
    write(tmp_path, "_root", {"tags": {"project": "root", "owner": "data"}, "warehouse": {"port": 5440}})
    write(tmp_path, "env", {"extends": "_base", "account": "333333333333", "tags": {"project": "env"},
                            "redshift_idc_application": {"groups": [{"display_name": "only-one"}]},
                            "warehouse": {"base_capacity_rpu": 16, "max_capacity_rpu": None}})
    layers = read_environment_layers("env", tmp_path)
    assert [p.name for p, _ in layers] == ["_root.yaml", "_base.yaml", "env.yaml"]
    assert all("extends" not in layer for _, layer in layers)
    config = load_environment("env", config_dir=tmp_path)
    assert config.tags == {"project": "env", "owner": "data"}
    assert config.warehouse.port == 5440  # from the root, untouched by the files above it
    assert config.warehouse.base_capacity_rpu == 16 and config.warehouse.max_capacity_rpu is None  # null replaces
    assert [g.display_name for g in config.redshift_idc_application.groups] == ["only-one"]
    assert config.redshift_idc_application.name == DEMO["redshift_idc_application"]["name"]  # merged, not replaced


def test_a_price_performance_target_over_a_base_with_a_base_capacity_needs_null(tmp_path: Path) -> None:
    """The base sets base_capacity_rpu (the demo's 8): an environment that scales to a target instead is refused
    until it drops the inherited base capacity with `null`, and the message says so."""
    split_demo(tmp_path)
    write(tmp_path, "env", {"extends": "_base", "account": "333333333333",
                            "warehouse": {"price_performance_target": 75}})
    message = load_error(tmp_path, "env")
    assert "warehouse.price_performance_target: set together with base_capacity_rpu (8)" in message
    assert "write base_capacity_rpu: null when a file this one extends sets it" in message
    write(tmp_path, "env", {"extends": "_base", "account": "333333333333",
                            "warehouse": {"price_performance_target": 75, "base_capacity_rpu": None}})
    warehouse = load_environment("env", config_dir=tmp_path).warehouse
    assert (warehouse.price_performance_target, warehouse.base_capacity_rpu, warehouse.max_capacity_rpu) == (
        75, None, DEMO["warehouse"]["max_capacity_rpu"])


def test_an_environment_may_extend_another_environment(tmp_path: Path) -> None:
    split_demo(tmp_path)
    write(tmp_path, "env2", {"extends": "env", "account": "444444444444"})
    config = load_environment("env2", config_dir=tmp_path)
    assert (config.name, config.account, config.tags) == ("env2", "444444444444", {"environment": "env"})


# --- errors -----------------------------------------------------------------------------------------


def test_a_cycle_is_refused_naming_the_files(tmp_path: Path) -> None:
    write(tmp_path, "env", {"extends": "_a"})
    write(tmp_path, "_a", {"extends": "_b"})
    write(tmp_path, "_b", {"extends": "_a"})
    message = load_error(tmp_path, "env")
    assert message.startswith(f"{tmp_path / 'env.yaml'}: extends: cycle ")
    assert f"{tmp_path / '_a.yaml'} -> {tmp_path / '_b.yaml'} -> {tmp_path / '_a.yaml'}" in message


def test_extending_itself_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "env", {"extends": "env"})
    assert f"cycle {tmp_path / 'env.yaml'} -> {tmp_path / 'env.yaml'}" in load_error(tmp_path, "env")


def test_a_missing_base_is_refused_naming_who_extends_it(tmp_path: Path) -> None:
    split_demo(tmp_path)
    write(tmp_path, "env", {"extends": "_base"})
    write(tmp_path, "_base", {"extends": "_gone"})
    message = load_error(tmp_path, "env")
    assert message.startswith(f"{tmp_path / '_base.yaml'}: extends: no such file {tmp_path / '_gone.yaml'}")
    assert f"(chain: {tmp_path / 'env.yaml'} -> {tmp_path / '_base.yaml'} -> {tmp_path / '_gone.yaml'})" in message
    assert "bases here: _base" in message and "environments: env" in message


@pytest.mark.parametrize(("value", "found"), [
    (["_base"], "a list"), ("../demo", "'../demo'"), ("_base.yaml", "'_base.yaml'"), ("", "''"), (None, "null")])
def test_extends_must_name_a_file_in_the_folder(tmp_path: Path, value: Any, found: str) -> None:
    write(tmp_path, "env", {"extends": value})
    message = load_error(tmp_path, "env")
    assert message.startswith(f"{tmp_path / 'env.yaml'}: extends: expected the name of another file in ")
    assert f"(found: {found})" in message


def test_a_bad_field_names_the_file_that_set_it(tmp_path: Path) -> None:
    split_demo(tmp_path)
    base = yaml.safe_load((tmp_path / "_base.yaml").read_text())
    base["warehouse"]["log_retention_days"] = 366
    base["warehouse"]["bogus"] = 1
    write(tmp_path, "_base", base)
    write(tmp_path, "env", {"extends": "_base", "account": "1234", "tags": {"environment": "env"}})
    message = load_error(tmp_path, "env")
    lines = message.splitlines()
    assert lines[0] == (f"{tmp_path / 'env.yaml'}: invalid configuration "
                        f"(3 problems; merged over {tmp_path / '_base.yaml'}):")
    by_field = {line.split(":")[0].strip(): line for line in lines[1:]}
    assert by_field["warehouse.log_retention_days"].endswith(f"(found: 366) [set in {tmp_path / '_base.yaml'}]")
    assert "unknown key" in by_field["warehouse.bogus"]
    assert by_field["warehouse.bogus"].endswith(f"[set in {tmp_path / '_base.yaml'}]")
    assert "[set in" not in by_field["account"]  # set by the environment file, which the first line names


def test_a_list_from_a_base_is_one_value_and_a_missing_key_names_no_file(tmp_path: Path) -> None:
    split_demo(tmp_path)
    base = yaml.safe_load((tmp_path / "_base.yaml").read_text())
    base["redshift_idc_application"]["groups"].append({"display_name": "AMER-sales"})
    del base["warehouse"]["namespace_name"]
    write(tmp_path, "_base", base)
    message = load_error(tmp_path, "env")
    duplicate = next(line for line in message.splitlines() if "duplicate group" in line)
    assert duplicate.strip().startswith("redshift_idc_application.groups[6]:")
    assert duplicate.endswith(f"[set in {tmp_path / '_base.yaml'}]")
    missing = next(line for line in message.splitlines() if "namespace_name" in line)
    assert "[set in" not in missing


def test_a_name_key_in_a_base_is_refused_naming_the_base(tmp_path: Path) -> None:
    split_demo(tmp_path)
    write(tmp_path, "_base", {**yaml.safe_load((tmp_path / "_base.yaml").read_text()), "name": "x"})
    assert load_error(tmp_path, "env").startswith(f"{tmp_path / '_base.yaml'}: name: unknown key")


def test_a_base_is_not_an_environment(tmp_path: Path) -> None:
    split_demo(tmp_path)
    message = load_error(tmp_path, "_base")
    assert "'_base' is a base for `extends: _base`" in message and "known: env" in message


# --- the samples ------------------------------------------------------------------------------------


def test_shared_is_a_base_and_dev_and_prod_are_environments() -> None:
    known = available_environments()
    assert {"dev", "prod"} <= set(known)
    assert not [name for name in known if name.startswith("_")]
    assert (CONFIG_DIR / "_shared.yaml").is_file()
    with pytest.raises(ConfigError, match="'_shared' is a base"):
        load_environment("_shared")


def test_dev_and_prod_share_defaults_and_differ_where_it_matters() -> None:
    dev, prod = load_environment("dev"), load_environment("prod")
    shared = yaml.safe_load((CONFIG_DIR / "_shared.yaml").read_text(encoding="utf-8"))
    for config in (dev, prod):
        assert config.redshift_idc_application.identity_namespace == shared["redshift_idc_application"][
            "identity_namespace"]
        assert config.access_model == shared["access_model"] == "demo"
        assert isinstance(config.network, CreatedVpc)
        assert config.tags == {**shared["tags"], "environment": config.name}
    assert (dev.account, prod.account) == ("333333333333", "444444444444")
    assert dev.region == prod.region == "us-east-1"  # see the README's "Regions"
    assert (dev.warehouse.base_capacity_rpu, prod.warehouse.base_capacity_rpu) == (8, 32)
    assert prod.warehouse.max_capacity_rpu == 128
    assert dev.warehouse.workgroup_name != prod.warehouse.workgroup_name
    assert dev.network.cidr != prod.network.cidr  # type: ignore[union-attr]
    assert "data-engineering" in {g.display_name for g in dev.redshift_idc_application.groups}
    assert all(g.group_id for g in prod.redshift_idc_application.groups)
    assert dev.identity_propagation is not None and prod.identity_propagation is None


@pytest.fixture(scope="module", params=SAMPLES)
def environment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Each sample synthesized once (both nag packs run; an unacknowledged finding fails the synth)."""
    name = str(request.param)
    return synthesize(load_environment(name), tmp_path_factory.mktemp(name))


def test_each_sample_synthesizes_nag_clean(environment: Synthesized) -> None:
    prefix = environment.config.stack_prefix
    expected = {"warehouse", "access"} | ({"identity"} if environment.config.identity_propagation else set())
    assert set(environment.templates) == expected
    assert {p.name for p in environment.outdir.glob("*.template.json")} == {
        f"{prefix}{k.capitalize()}.template.json" for k in expected}
    plugins = {p["pluginName"]: p for p in environment.validation_report()["pluginReports"]}
    assert "AwsSolutions" in plugins
    for name, plugin in plugins.items():
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), name


def test_each_samples_resource_types_are_in_the_execution_policy(environment: Synthesized) -> None:
    assert uncovered_types(environment.template_json(k) for k in environment.templates) == []


def test_each_sample_has_no_cfn_lint_errors(environment: Synthesized) -> None:
    templates = sorted(environment.outdir.glob("*.template.json"))
    assert templates
    for path in templates:
        matches = lint(path.read_text(), config=ManualArgs(regions=[environment.config.region]))
        assert [str(m) for m in matches if m.rule.id.startswith("E")] == [], path.name


def test_each_sample_deploys_its_own_size_and_account(environment: Synthesized) -> None:
    config = environment.config
    _, workgroup = only_resource(environment.template_json(), "AWS::RedshiftServerless::Workgroup")
    assert workgroup["Properties"].get("BaseCapacity") == config.warehouse.base_capacity_rpu
    assert workgroup["Properties"]["MaxCapacity"] == config.warehouse.max_capacity_rpu
    assert workgroup["Properties"]["WorkgroupName"] == config.warehouse.workgroup_name
    assignments = environment.template_json()["Resources"]
    count = sum(1 for r in assignments.values() if r["Type"] == "AWS::SSO::ApplicationAssignment")
    assert count == len(config.redshift_idc_application.groups)


def test_each_sample_scales_from_a_base_capacity_or_to_a_price_performance_target(environment: Synthesized) -> None:
    """One or the other, never both (sample-lakehouse scales to a target; dev and prod have base capacities);
    the max capacity is the ceiling either way."""
    warehouse = environment.config.warehouse
    scaling: dict[str, Any]
    if warehouse.price_performance_target is None:
        scaling = {"BaseCapacity": warehouse.base_capacity_rpu, "PricePerformanceTarget": Match.absent()}
    else:
        scaling = {"PricePerformanceTarget": {"Status": "ENABLED", "Level": warehouse.price_performance_target},
                   "BaseCapacity": Match.absent()}
    environment.warehouse.has_resource_properties("AWS::RedshiftServerless::Workgroup", {
        **scaling, "MaxCapacity": warehouse.max_capacity_rpu})


def test_the_lakehouse_sample_scales_to_a_price_performance_target() -> None:
    """The sample that shows issue 23's features turns this one on (the test above checks its template)."""
    warehouse = load_environment("sample-lakehouse").warehouse
    assert (warehouse.price_performance_target, warehouse.base_capacity_rpu) == (50, None)


def test_the_federated_sample_turns_on_what_aws_shipped_lately(environment: Synthesized) -> None:
    """sample-federated: federated permissions (the registration custom resource, with identity propagation through
    its Lakehouse application), price-performance scaling and default privileges, together."""
    if environment.config.name != "sample-federated":
        pytest.skip("checked on sample-federated only")
    warehouse = environment.config.warehouse
    assert warehouse.price_performance_target == 75 and warehouse.base_capacity_rpu is None
    assert warehouse.federated_permissions is not None
    registration = environment.warehouse.find_resources("Custom::LakehouseRegistration")
    assert len(registration) == 1
    properties = next(iter(registration.values()))["Properties"]
    assert properties["CatalogName"] == "sales-catalog" and "IdcApplicationArn" in properties, properties
    from redshift_idc.access.model import load_model

    assert environment.config.access_model is not None
    assert len(load_model(environment.config.access_model, environment.config).model.default_privileges) == 2


def test_the_reconciler_reads_the_identity_store_only_when_the_model_deprovisions(environment: Synthesized) -> None:
    """deprovision_users (access/sample-lakehouse.yaml): the reconciler's role may read this identity store's
    users and their memberships (and look up the groups config gives no id), and the custom resource carries
    the store and the assigned groups; a model that does not opt in gets neither."""
    from redshift_idc.access.model import load_model

    config = environment.config
    assert config.access_model is not None
    model = load_model(config.access_model, config).model
    template = environment.template_json("access")
    statements = [s for key, policy in template["Resources"].items()
                  if policy["Type"] == "AWS::IAM::Policy" and key.startswith("AccessModelRole")
                  for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    reads = sorted((json.dumps(s["Action"]), json.dumps(s["Resource"])) for s in statements
                   if "identitystore" in json.dumps(s["Action"]))
    _, resource = only_resource(template, "Custom::AccessModel")
    props = resource["Properties"]
    if not model.deprovision_users:
        assert reads == [] and "IdentityStoreId" not in props and "AssignedGroups" not in props
        return
    store = f"arn:aws:identitystore::{config.account}:identitystore/{config.identity_center.identity_store_id}"
    users, memberships, groups = ("arn:aws:identitystore:::user/*", "arn:aws:identitystore:::membership/*",
                                  "arn:aws:identitystore:::group/*")
    assert reads == sorted([
        (json.dumps(["identitystore:GetUserId", "identitystore:ListUsers"]), json.dumps([store, users])),
        (json.dumps("identitystore:ListGroupMembershipsForMember"), json.dumps([store, memberships, users])),
        (json.dumps("identitystore:GetGroupId"), json.dumps([store, groups])),  # the sample's groups have no ids
    ])
    assert props["IdentityStoreId"] == config.identity_center.identity_store_id
    assert props["AssignedGroups"] == [{"DisplayName": g.display_name} for g in config.redshift_idc_application.groups]
    assert props["AssignedUsers"] == []
    acknowledged = {s["ruleName"] for p in environment.validation_report()["pluginReports"]
                    for s in p.get("suppressedViolations", []) if s["acknowledgedAt"].endswith(
                        "Access/AccessModel/Role/DefaultPolicy")}
    assert {f"AwsSolutions-IAM5[Resource::{arn}]" for arn in (users, memberships, groups)} <= acknowledged
    asset = environment.outdir / f"asset.{props['ModelHash']}.json"
    assert json.loads(asset.read_text())["users"] == {"namespace": "AWSIDC", "transfer_ownership_to": None}
