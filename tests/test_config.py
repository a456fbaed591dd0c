"""`config/<name>.yaml` as a person edits it: the samples load with typed values, and every kind of
mistake fails with a `ConfigError` that names the file, the field path and what is expected.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.warehouse import CreatedVpc, ExistingVpc
from redshift_idc.config.yaml_files import CONFIG_DIR, available_environments

DEMO: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text(encoding="utf-8"))
SAMPLE: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "sample-existing-vpc.yaml").read_text(encoding="utf-8"))
EXISTING_NETWORK: dict[str, Any] = SAMPLE["network"]

Mutation = Callable[[dict[str, Any]], None]

def demo() -> dict[str, Any]:
    return copy.deepcopy(DEMO)


def set_at(*path: str | int, value: Any) -> Mutation:
    """A mutation that sets `data[path...] = value`."""

    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def delete_at(*path: str | int) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def rename_at(*path: str, to: str) -> Mutation:
    """Rename the key at `path` to `to`, keeping its value (a typo in a key)."""

    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[to] = target.pop(path[-1])

    return mutate


def existing_network(**changes: Any) -> Mutation:
    network = {**copy.deepcopy(EXISTING_NETWORK), **changes}
    return set_at("network", value=network)


def groups(*entries: dict[str, str]) -> Mutation:
    """Replace the groups; index 0 is always a valid first group, so the bad one is at [1]."""
    return set_at("redshift_idc_application", "groups", value=[{"display_name": "amer-sales"}, *entries])


def write(directory: Path, data: Any, name: str = "bad") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_error(directory: Path, name: str = "bad") -> str:
    with pytest.raises(ConfigError) as raised:
        load_environment(name, config_dir=directory)
    message = str(raised.value)
    assert message.startswith(f"{directory / name}.yaml:"), message  # `file: ...` or `file:line:column: ...`
    return message


def problem_line(message: str, field: str, *, prefix: bool = False) -> str:
    """The line that reports `field`: the whole dotted path followed by ':' (with `prefix`, the path
    may go on, e.g. `network` also finds `network.mode:`)."""
    end = r"[:.\[]" if prefix else ":"
    pattern = re.compile(rf"(?<![\w.\]\[]){re.escape(field)}{end}")
    lines = [line for line in message.splitlines() if pattern.search(line)]
    assert lines, f"no line names the field {field!r}:\n{message}"
    return lines[0]


def assert_problem(message: str, field: str, *expected: str, prefix: bool = False) -> None:
    line = problem_line(message, field, prefix=prefix)
    for fragment in expected:
        assert fragment in line, f"{fragment!r} missing from the line for {field!r}:\n{message}"


def check_refused(tmp_path: Path, mutate: Mutation, field: str, *expected: str, prefix: bool = False) -> str:
    data = demo()
    mutate(data)
    write(tmp_path, data)
    message = load_error(tmp_path)
    assert_problem(message, field, *expected, prefix=prefix)
    return message


def check_loads(tmp_path: Path, mutate: Mutation, name: str = "good") -> EnvironmentConfig:
    data = demo()
    mutate(data)
    write(tmp_path, data, name)
    return load_environment(name, config_dir=tmp_path)


# --- the samples ----------------------------------------------------------------------------------


def test_both_samples_are_known_environments() -> None:
    assert {"demo", "sample-existing-vpc"} <= set(available_environments())


def test_demo_loads_with_typed_values() -> None:
    config = load_environment("demo")
    assert config.name == "demo"
    assert config.stack_prefix == "Demo"
    assert config.account == "111111111111"
    assert config.region == "us-east-1"
    assert config.availability_zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert config.identity_center.partition == "aws"
    assert config.identity_center.instance_id == "ssoins-0000000000000000"
    assert config.identity_center.identity_store_id == "d-0000000000"
    app = config.redshift_idc_application
    assert app.groups[0].display_name == "amer-sales"
    assert app.groups[0].group_id is None
    assert app.role_name(app.groups[0].display_name) == "AWSIDC:amer-sales"
    assert config.warehouse.base_capacity_rpu == 8
    assert config.warehouse.max_capacity_rpu == 64
    assert config.warehouse.port == 5439
    assert config.warehouse.enhanced_vpc_routing is False
    assert isinstance(config.network, CreatedVpc)
    assert config.network.mode == "create"
    assert config.network.cidr == "10.40.0.0/16"
    assert config.access_model == "demo"
    assert config.tags == {"project": "redshift-idc", "environment": "demo"}


def test_sample_existing_vpc_loads_with_typed_values() -> None:
    config = load_environment("sample-existing-vpc")
    assert config.name == "sample-existing-vpc"
    assert config.stack_prefix == "SampleExistingVpc"
    assert config.identity_center.partition == "aws"
    assert config.identity_center.instance_id == "ssoins-1111111111111111"
    app = config.redshift_idc_application
    assert [g.display_name for g in app.groups] == ["finance analysts", "data-engineering"]
    assert app.groups[0].group_id == "11111111-2222-3333-4444-555555555555"
    assert app.role_name("finance analysts") == "ACME:finance analysts"
    assert config.warehouse.base_capacity_rpu == 32
    assert config.warehouse.max_capacity_rpu == 256
    assert config.warehouse.log_retention_days == 731
    assert isinstance(config.network, ExistingVpc)
    assert config.network.mode == "existing"
    assert config.network.vpc_id == "vpc-0a1b2c3d4e5f60718"
    assert config.network.subnet_ids == (
        "subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003")
    assert config.network.security_group_ids == ()
    assert config.access_model is None


def test_environment_name_is_the_file_stem_and_drives_the_stack_prefix(tmp_path: Path) -> None:
    config = check_loads(tmp_path, lambda data: None, name="my-prod-env")
    assert config.name == "my-prod-env"
    assert config.stack_prefix == "MyProdEnv"


def test_loaded_config_is_frozen() -> None:
    config = load_environment("demo")
    with pytest.raises(ValueError, match="frozen"):
        config.warehouse.port = 5440  # type: ignore[misc]


# --- unknown keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mutate", "field", "expected"), [
    pytest.param(rename_at("tags", to="tag"), "tag", ["unknown key", "did you mean 'tags'"], id="top-level"),
    pytest.param(rename_at("warehouse", "base_capacity_rpu", to="base_capacity_rpus"),
                 "warehouse.base_capacity_rpus", ["unknown key", "did you mean 'base_capacity_rpu'"],
                 id="warehouse"),
    pytest.param(rename_at("identity_center", "identity_store_id", to="identity_store"),
                 "identity_center.identity_store", ["unknown key", "did you mean 'identity_store_id'"],
                 id="identity-center"),
    pytest.param(groups({"dispaly_name": "emea-sales"}), "redshift_idc_application.groups[1].dispaly_name",
                 ["unknown key", "did you mean 'display_name'"], id="group"),
    pytest.param(set_at("network", "cidrr", value="10.0.0.0/16"), "network.cidrr",
                 ["unknown key", "did you mean 'cidr'", "allowed keys here: cidr, mode"],
                 id="created-network"),
    pytest.param(existing_network(subnets=["subnet-0a1b2c3d"]), "network.subnets",
                 ["unknown key", "did you mean 'subnet_ids'"], id="existing-network"),
    pytest.param(set_at("network", "vpc_id", value="vpc-0a1b2c3d"), "network.vpc_id",
                 ["unknown key", "allowed keys here: cidr, mode"], id="existing-only-key-in-create-mode"),
])
def test_unknown_key_is_refused_with_a_suggestion(tmp_path: Path, mutate: Mutation, field: str,
                                                   expected: list[str]) -> None:
    check_refused(tmp_path, mutate, field, *expected)


def test_unknown_top_level_key_lists_the_allowed_keys_but_not_name(tmp_path: Path) -> None:
    message = check_refused(tmp_path, set_at("colour", value="blue"), "colour", "unknown key")
    line = problem_line(message, "colour")
    assert "did you mean" not in line
    allowed = line.split("allowed keys here: ", 1)[1].split(", ")
    assert "warehouse" in allowed
    assert "access_model" in allowed
    assert "name" not in allowed


def test_name_key_is_refused_because_the_file_name_is_the_name(tmp_path: Path) -> None:
    message = check_refused(tmp_path, set_at("name", value="prod"), "name",
                            "unknown key", "file name", "'bad'")
    assert "\n" not in message


# --- identity center ------------------------------------------------------------------------------


@pytest.mark.parametrize("arn", [
    "arn:aws:sso:::instance/ssoins-123",                      # too short
    "arn:aws:sso:::instance/ins-0000000000000000x",           # too long
    "arn:aws:iam::111111111111:role/ssoins-0000000000000000",  # not an IdC instance
    "arn:aws-xx:sso:::instance/ssoins-0000000000000000",      # unknown partition
    "ssoins-0000000000000000",                               # the id, not the ARN
])
def test_malformed_instance_arn(tmp_path: Path, arn: str) -> None:
    check_refused(tmp_path, set_at("identity_center", "instance_arn", value=arn),
                  "identity_center.instance_arn", "expected an IAM Identity Center instance ARN like",
                  f"(found: '{arn}')")


@pytest.mark.parametrize("arn", [
    "arn:aws:sso:::instance/ssoins-abcdef0123456789",
    "arn:aws-us-gov:sso:::instance/ssoins-abcdef0123456789",
    "arn:aws:sso:::instance/ins-abcdef0123456789",
])
def test_well_formed_instance_arn_loads(tmp_path: Path, arn: str) -> None:
    config = check_loads(tmp_path, set_at("identity_center", "instance_arn", value=arn))
    assert config.identity_center.instance_id == arn.rsplit("/", 1)[1]
    assert config.identity_center.partition == arn.split(":")[1]


@pytest.mark.parametrize("store_id", ["d-123", "d-00000000000", "D-0000000000", "d-000000000g", "0000000000"])
def test_malformed_identity_store_id(tmp_path: Path, store_id: str) -> None:
    check_refused(tmp_path, set_at("identity_center", "identity_store_id", value=store_id),
                  "identity_center.identity_store_id",
                  "expected an identity store id: d- followed by ten characters, e.g. d-1234567890",
                  f"(found: '{store_id}')")


@pytest.mark.parametrize("number", [0, 1234567890])
def test_an_identity_store_id_yaml_read_as_a_number_is_told_its_form_not_to_quote_it(tmp_path: Path,
                                                                                    number: int) -> None:
    """`identity_store_id: 0000000000` (the `d-` left out) is the number 0 to YAML: quoting it would not help."""
    message = check_refused(tmp_path, set_at("identity_center", "identity_store_id", value=number),
                            "identity_center.identity_store_id", f"YAML read this value as the number {number}",
                            "d- followed by ten characters, e.g. d-1234567890")
    assert "quote" not in problem_line(message, "identity_center.identity_store_id")


@pytest.mark.parametrize("group_id", [
    "not-a-uuid", "9067e2d4-1234-5678-9abc", "9067e2d4123456789abcdef012345678", "9067E2D4-1234-5678-9abc"])
def test_malformed_group_id(tmp_path: Path, group_id: str) -> None:
    check_refused(tmp_path, groups({"display_name": "emea-sales", "group_id": group_id}),
                  "redshift_idc_application.groups[1].group_id", "expected an identity store group id like",
                  "omit it to resolve by display_name", f"(found: '{group_id}')")


# --- redshift idc application: namespace and groups -----------------------------------------------


@pytest.mark.parametrize(("namespace", "expected"), [
    ("AWS IDC", "(found: 'AWS IDC')"), ("AWS:IDC", "(found: 'AWS:IDC')"), ("AWSIDC/", "(found: 'AWSIDC/')"),
    ("", "empty: write a value, or remove the key")])
def test_identity_namespace_with_a_bad_character(tmp_path: Path, namespace: str, expected: str) -> None:
    check_refused(tmp_path, set_at("redshift_idc_application", "identity_namespace", value=namespace),
                  "redshift_idc_application.identity_namespace", expected)


@pytest.mark.parametrize("namespace", ["sys", "DS", "Sys", "ds"])
def test_reserved_identity_namespace(tmp_path: Path, namespace: str) -> None:
    check_refused(tmp_path, set_at("redshift_idc_application", "identity_namespace", value=namespace),
                  "redshift_idc_application.identity_namespace", f"'{namespace}' is reserved by Redshift",
                  "choose another")


@pytest.mark.parametrize(("mutate", "field", "expected"), [
    pytest.param(groups({"display_name": "amer-sales"}), "redshift_idc_application.groups[1]",
                 ["duplicate group 'amer-sales'", "groups[0]"], id="duplicate-group"),
    pytest.param(groups({"display_name": "AMER-Sales"}), "redshift_idc_application.groups[1]",
                 ["duplicate group 'AMER-Sales'", "groups[0]", "case-insensitive"], id="duplicate-group-case"),
    pytest.param(set_at("redshift_idc_application", "groups", value=[
        {"display_name": "amer-sales", "group_id": "11111111-2222-3333-4444-555555555555"},
        {"display_name": "emea-sales", "group_id": "11111111-2222-3333-4444-555555555555"},
    ]), "redshift_idc_application.groups[1]", ["11111111-2222-3333-4444-555555555555", "groups[0]"],
        id="duplicate-group-id"),
    # 7 bytes of "AWSIDC:" + 61 two-byte characters = 129 bytes, though only 68 characters.
    pytest.param(groups({"display_name": "é" * 61}), "redshift_idc_application.groups[1]",
                 ["127-byte", "AWSIDC:" + "é" * 61], id="role-name-over-127-bytes"),
    pytest.param(groups({"display_name": "a" * 121}), "redshift_idc_application.groups[1]", ["127-byte"],
                 id="role-name-128-ascii"),
])
def test_bad_groups(tmp_path: Path, mutate: Mutation, field: str, expected: list[str]) -> None:
    check_refused(tmp_path, mutate, field, *expected)


@pytest.mark.parametrize(("mutate", "fragment"), [
    pytest.param(groups({"display_name": "AMER-Sales"}), "duplicate group", id="duplicate-group-case"),
    pytest.param(groups({"display_name": "emea-sales", "group_id": "11111111-2222-3333-4444-555555555555"},
                        {"display_name": "apac-sales", "group_id": "11111111-2222-3333-4444-555555555555"}),
                 "is also used by groups[1]", id="duplicate-group-id"),
    pytest.param(groups({"display_name": "é" * 61}), "127-byte", id="role-name-over-127-bytes"),
])
def test_group_problems_are_refused_whatever_the_wording(tmp_path: Path, mutate: Mutation,
                                                         fragment: str) -> None:
    """Each group problem is refused, naming the group index."""
    message = check_refused(tmp_path, mutate, "redshift_idc_application", "groups[", fragment, prefix=True)
    assert "(1 problem)" in message


@pytest.mark.parametrize("display_name", ["é" * 60, "a" * 120])
def test_role_name_of_exactly_127_bytes_loads(tmp_path: Path, display_name: str) -> None:
    config = check_loads(tmp_path, groups({"display_name": display_name}))
    app = config.redshift_idc_application
    assert len(app.role_name(display_name).encode("utf-8")) == 127


# --- warehouse ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rpu", [12, 0, -8, 2, 520, 1056, 2048])
def test_base_capacity_not_allowed(tmp_path: Path, rpu: int) -> None:
    check_refused(tmp_path, set_at("warehouse", "base_capacity_rpu", value=rpu),
                  "warehouse.base_capacity_rpu", "base capacity is 4, a multiple of 8 from 8 to 512",
                  f"(found: {rpu})")


@pytest.mark.parametrize("rpu", [4, 8, 64, 512, 544, 1024])
def test_base_capacity_allowed_in_us_east_1(tmp_path: Path, rpu: int) -> None:
    config = check_loads(tmp_path, lambda data: data["warehouse"].update(base_capacity_rpu=rpu,
                                                                        max_capacity_rpu=max(rpu, 8)))
    assert config.warehouse.base_capacity_rpu == rpu


def in_region(region: str, **warehouse: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["region"] = region
        data["availability_zones"] = [f"{region}{zone}" for zone in "abc"]
        data["warehouse"].update(warehouse)

    return mutate


@pytest.mark.parametrize("rpu", [544, 1024])
def test_base_capacity_above_512_refused_outside_extended_regions(tmp_path: Path, rpu: int) -> None:
    check_refused(tmp_path, in_region("ap-south-1", base_capacity_rpu=rpu, max_capacity_rpu=1024),
                  "warehouse.base_capacity_rpu", "above 512 RPU is offered only in", "us-east-1",
                  "not in ap-south-1")


def test_base_capacity_up_to_512_allowed_outside_extended_regions(tmp_path: Path) -> None:
    config = check_loads(tmp_path, in_region("ap-south-1", base_capacity_rpu=512, max_capacity_rpu=1024))
    assert config.region == "ap-south-1"
    assert config.warehouse.base_capacity_rpu == 512


@pytest.mark.parametrize(("base", "maximum"), [(16, 8), (128, 64)])
def test_max_capacity_below_base(tmp_path: Path, base: int, maximum: int) -> None:
    """Refused whatever the wording; that the line names `warehouse.max_capacity_rpu` is checked below."""
    check_refused(tmp_path, set_at("warehouse", value={**DEMO["warehouse"], "base_capacity_rpu": base,
                                                       "max_capacity_rpu": maximum}),
                  "warehouse", "max_capacity_rpu", f"{maximum}", f"is below base_capacity_rpu ({base})",
                  prefix=True)


def test_max_capacity_equal_to_base_loads(tmp_path: Path) -> None:
    config = check_loads(tmp_path, lambda data: data["warehouse"].update(base_capacity_rpu=64,
                                                                        max_capacity_rpu=64))
    assert config.warehouse.max_capacity_rpu == 64


def test_max_capacity_below_base_names_the_field(tmp_path: Path) -> None:
    check_refused(tmp_path, lambda data: data["warehouse"].update(base_capacity_rpu=128, max_capacity_rpu=64),
                  "warehouse.max_capacity_rpu", "is below base_capacity_rpu")


@pytest.mark.parametrize("maximum", [60, 4, 0, 5640, 6000])
def test_max_capacity_not_a_multiple_of_8_in_range(tmp_path: Path, maximum: int) -> None:
    check_refused(tmp_path, set_at("warehouse", "max_capacity_rpu", value=maximum),
                  "warehouse.max_capacity_rpu", "multiple of 8 from 8 to 5632", f"(found: {maximum})")


def test_max_capacity_upper_limit_loads(tmp_path: Path) -> None:
    config = check_loads(tmp_path, set_at("warehouse", "max_capacity_rpu", value=5632))
    assert config.warehouse.max_capacity_rpu == 5632


# A price-performance target (AI-driven scaling) instead of a base capacity; the demo sets base 8 and max 64.


def target_alone(level: Any) -> Mutation:
    """The demo's warehouse with a price-performance target instead of its base capacity."""
    def mutate(data: dict[str, Any]) -> None:
        del data["warehouse"]["base_capacity_rpu"]
        data["warehouse"]["price_performance_target"] = level
    return mutate


@pytest.mark.parametrize("level", [1, 25, 50, 75, 100])
def test_a_price_performance_target_replaces_the_base_capacity(tmp_path: Path, level: int) -> None:
    config = check_loads(tmp_path, target_alone(level))
    warehouse = config.warehouse
    assert (warehouse.price_performance_target, warehouse.base_capacity_rpu, warehouse.max_capacity_rpu) == (
        level, None, 64)


def test_a_target_with_a_null_base_capacity_loads(tmp_path: Path) -> None:
    """`null` drops a base capacity another file sets through `extends` (tests/test_environments.py)."""
    config = check_loads(tmp_path, lambda data: data["warehouse"].update(base_capacity_rpu=None,
                                                                        price_performance_target=25))
    assert (config.warehouse.price_performance_target, config.warehouse.base_capacity_rpu) == (25, None)


def test_neither_a_target_nor_a_base_capacity_is_the_default_base_capacity(tmp_path: Path) -> None:
    """Never neither: a workgroup created with neither would get whatever AWS defaults to."""
    for mutate in (delete_at("warehouse", "base_capacity_rpu"), set_at("warehouse", "base_capacity_rpu", value=None)):
        config = check_loads(tmp_path, mutate)
        assert (config.warehouse.base_capacity_rpu, config.warehouse.price_performance_target) == (8, None)


@pytest.mark.parametrize("base", [8, 4, 128])
def test_a_target_and_a_base_capacity_are_refused_together(tmp_path: Path, base: int) -> None:
    check_refused(tmp_path, lambda data: data["warehouse"].update(base_capacity_rpu=base,
                                                                 price_performance_target=50),
                  "warehouse.price_performance_target", f"set together with base_capacity_rpu ({base})",
                  "not both", "remove base_capacity_rpu (write base_capacity_rpu: null when a file this one extends "
                  "sets it) or remove price_performance_target")


@pytest.mark.parametrize("level", [0, 10, 51, 101, -50, "BALANCED", "50%", True, 50.5, [50]])
def test_a_price_performance_level_that_is_not_one_of_the_five_is_refused(tmp_path: Path, level: Any) -> None:
    message = check_refused(tmp_path, target_alone(level), "warehouse.price_performance_target",
                            "the price-performance target is one of 1 (LOW_COST), 25 (ECONOMICAL), 50 (BALANCED), "
                            "75 (RESOURCEFUL), 100 (HIGH_PERFORMANCE)", "e.g. price_performance_target: 50")
    assert "base_capacity_rpu" not in message  # one problem: the level, not a missing capacity


@pytest.mark.parametrize("port", [80, 5430, 5456, 8190, 8216, 5432.5])
def test_bad_port(tmp_path: Path, port: float) -> None:
    check_refused(tmp_path, set_at("warehouse", "port", value=port), "warehouse.port", f"(found: {port})")


@pytest.mark.parametrize("port", [80, 5430, 5456, 8190, 8216])
def test_bad_port_says_which_ports_are_allowed(tmp_path: Path, port: int) -> None:
    check_refused(tmp_path, set_at("warehouse", "port", value=port), "warehouse.port",
                  "5431-5455 or 8191-8215")


@pytest.mark.parametrize("port", [5431, 5455, 8191, 8215])
def test_port_at_range_edges_loads(tmp_path: Path, port: int) -> None:
    assert check_loads(tmp_path, set_at("warehouse", "port", value=port)).warehouse.port == port


def test_role_quota_defaults_to_redshifts_1000_roles_per_workgroup(tmp_path: Path) -> None:
    assert check_loads(tmp_path, lambda data: None).warehouse.role_quota == 1000
    assert "role_quota" not in DEMO["warehouse"]  # the default, not the file, gives it


def test_a_raised_role_quota_loads(tmp_path: Path) -> None:
    assert check_loads(tmp_path, set_at("warehouse", "role_quota", value=5000)).warehouse.role_quota == 5000


@pytest.mark.parametrize("quota", [0, -1000])
def test_a_role_quota_below_one_is_refused_naming_the_default(tmp_path: Path, quota: int) -> None:
    check_refused(tmp_path, set_at("warehouse", "role_quota", value=quota), "warehouse.role_quota",
                  "a positive whole number", "default is 1,000 roles per workgroup", f"(found: {quota})")


@pytest.mark.parametrize("quota", [True, 1000.5, "many"])
def test_a_role_quota_that_is_not_a_whole_number_is_refused(tmp_path: Path, quota: Any) -> None:
    check_refused(tmp_path, set_at("warehouse", "role_quota", value=quota), "warehouse.role_quota")


@pytest.mark.parametrize("days", [0, 2, 100, 366, 3650])
def test_log_retention_not_allowed(tmp_path: Path, days: int) -> None:
    check_refused(tmp_path, set_at("warehouse", "log_retention_days", value=days),
                  "warehouse.log_retention_days", "CloudWatch Logs accepts only these retention periods",
                  "1, 3, 5, 7, 14", f"(found: {days})")


@pytest.mark.parametrize("days", [1, 400, 3653])
def test_log_retention_allowed(tmp_path: Path, days: int) -> None:
    config = check_loads(tmp_path, set_at("warehouse", "log_retention_days", value=days))
    assert config.warehouse.log_retention_days == days


@pytest.mark.parametrize("value", [True, "true", 1])
def test_enhanced_vpc_routing_refused(tmp_path: Path, value: Any) -> None:
    check_refused(tmp_path, set_at("warehouse", "enhanced_vpc_routing", value=value),
                  "warehouse.enhanced_vpc_routing", "trusted identity propagation", "set it to false")


def test_enhanced_vpc_routing_false_loads(tmp_path: Path) -> None:
    config = check_loads(tmp_path, set_at("warehouse", "enhanced_vpc_routing", value=False))
    assert config.warehouse.enhanced_vpc_routing is False


# --- region and availability zones ----------------------------------------------------------------


@pytest.mark.parametrize("zone", ["us-west-2a", "us-east-1", "us-east-1az", "use1-az1"])
def test_availability_zone_not_in_region(tmp_path: Path, zone: str) -> None:
    check_refused(tmp_path, set_at("availability_zones", 0, value=zone), "availability_zones",
                  f"'{zone}' is not a zone of region us-east-1", "expected e.g. 'us-east-1a'")


def test_duplicate_availability_zones(tmp_path: Path) -> None:
    check_refused(tmp_path, set_at("availability_zones", value=["us-east-1a", "us-east-1a", "us-east-1b"]),
                  "availability_zones", "three distinct zones")


# --- network --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mutate", "field", "expected"), [
    pytest.param(existing_network(subnet_ids=EXISTING_NETWORK["subnet_ids"][:2]), "network.subnet_ids", ["3"],
                 id="two-subnets"),
    pytest.param(existing_network(subnet_ids=[*EXISTING_NETWORK["subnet_ids"], "subnet-0a1b2c3d"]),
                 "network.subnet_ids", ["at most 3"], id="four-subnets"),
    pytest.param(existing_network(subnet_ids=[EXISTING_NETWORK["subnet_ids"][0]] * 2
                                  + [EXISTING_NETWORK["subnet_ids"][2]]),
                 "network.subnet_ids", ["must be distinct"], id="duplicate-subnets"),
    pytest.param(existing_network(subnet_ids=["subnet-0a1b2c3d", "subnet-xyz", "subnet-0a1b2c3e"]),
                 "network.subnet_ids[1]", ["(found: 'subnet-xyz')"], id="bad-subnet-id"),
    pytest.param(existing_network(vpc_id="vpc-123"), "network.vpc_id", ["(found: 'vpc-123')"], id="bad-vpc-id"),
    pytest.param(existing_network(vpc_id="vpc-0A1B2C3D"), "network.vpc_id", ["(found: 'vpc-0A1B2C3D')"],
                 id="upper-case-vpc-id"),
    pytest.param(existing_network(security_group_ids=["sg-1"]), "network.security_group_ids[0]",
                 ["(found: 'sg-1')"], id="bad-security-group"),
    pytest.param(set_at("network", "cidr", value="10.40.0.0/8"), "network.cidr", ["(found: '10.40.0.0/8')"],
                 id="cidr-too-large"),
    pytest.param(set_at("network", "mode", value="peered"), "network.mode",
                 ["'peered' is not one of create, existing"], id="unknown-mode"),
    pytest.param(delete_at("network", "mode"), "network.mode", ["required"], id="missing-mode"),
])
def test_bad_network(tmp_path: Path, mutate: Mutation, field: str, expected: list[str]) -> None:
    check_refused(tmp_path, mutate, field, *expected)


def test_unknown_network_mode_is_refused_and_lists_the_modes(tmp_path: Path) -> None:
    """Refused whatever the wording, with the allowed modes; `network.mode` is checked in test_bad_network."""
    check_refused(tmp_path, set_at("network", "mode", value="peered"), "network", "'peered'",
                  "create, existing", prefix=True)


def test_two_subnets_are_refused(tmp_path: Path) -> None:
    """Refused whatever the wording; that it says three are needed is checked in test_bad_network."""
    check_refused(tmp_path, existing_network(subnet_ids=EXISTING_NETWORK["subnet_ids"][:2]),
                  "network.subnet_ids", prefix=True)


def test_existing_network_loads_into_demo(tmp_path: Path) -> None:
    config = check_loads(tmp_path, existing_network(security_group_ids=["sg-0a1b2c3d"]))
    assert isinstance(config.network, ExistingVpc)
    assert config.network.security_group_ids == ("sg-0a1b2c3d",)


# --- tags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["aws:cost-center", "AWS:CreatedBy", "Aws:x"])
def test_tag_key_with_aws_prefix(tmp_path: Path, key: str) -> None:
    check_refused(tmp_path, set_at("tags", key, value="x"), "tags", f"tag key '{key}'",
                  "'aws:' prefix is reserved")


def test_tag_value_with_a_bad_character(tmp_path: Path) -> None:
    check_refused(tmp_path, set_at("tags", "project", value="a#b"), "tags.project", "(found: 'a#b')")


# --- the file itself ------------------------------------------------------------------------------


def test_missing_environment_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, demo(), "alpha")
    write(tmp_path, demo(), "beta")
    message = load_error(tmp_path, "gamma")
    assert "no such environment 'gamma'" in message
    assert "(known: alpha, beta)" in message
    assert "copy config/demo.yaml to config/gamma.yaml" in message
    assert "did you mean 'alpha'?" in load_error(tmp_path, "Alpha")  # never a name the README forbids
    assert "copy config/demo.yaml to config/my-env.yaml" in load_error(tmp_path, "My_Env")


def test_missing_environment_in_an_empty_directory(tmp_path: Path) -> None:
    assert "(known: none)" in load_error(tmp_path, "gamma")


@pytest.mark.parametrize(("text", "at", "words"), [
    ("warehouse: [unclosed\n", "1:12", "the '[' opened at line 1, column 12 is not closed"),
    ("warehouse:\n\tport: 5439\n", "2:1", "a tab: YAML indents"),
    ("account: '111111111111\n", "1:10", "the quote opened at line 1, column 10 is never closed"),
])
def test_invalid_yaml(tmp_path: Path, text: str, at: str, words: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    message = load_error(tmp_path)
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:{at}: not valid YAML: {words}"), message


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "---\n"])
def test_empty_file_lists_every_required_key(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    message = load_error(tmp_path)
    required = ["account", "region", "availability_zones", "identity_center", "redshift_idc_application",
                "warehouse", "network"]
    assert f"({len(required)} problems)" in message
    for field in required:
        assert_problem(message, field, "required, but not set")


@pytest.mark.parametrize("text", ["- account: '111111111111'\n", "just a string\n", "42\n"])
def test_top_level_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    assert "expected a mapping of settings at the top level" in load_error(tmp_path)


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    # A second `tags:` block would silently replace the first (both are valid on their own).
    text = (CONFIG_DIR / "demo.yaml").read_text(encoding="utf-8") + "tags:\n  owner: me\n"
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    message = load_error(tmp_path)
    assert "tags" in message
    assert "duplicate" in message


# --- every problem is reported --------------------------------------------------------------------


def test_two_problems_in_one_file_are_both_reported(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["identity_center"]["instance_arn"] = "arn:aws:sso:::instance/nope"
        data["warehouse"]["port"] = 80

    message = check_refused(tmp_path, mutate, "identity_center.instance_arn",
                            "expected an IAM Identity Center")
    assert_problem(message, "warehouse.port", "5431-5455 or 8191-8215", "(found: 80)")
    assert "(2 problems)" in message
    assert len(message.splitlines()) == 3


def test_problems_in_different_sections_are_all_reported(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["redshift_idc_application"]["groups"][1]["group_id"] = "nope"
        data["warehouse"]["base_capacity_rpu"] = 12
        data["tags"]["aws:owner"] = "me"
        data["colour"] = "blue"

    message = check_refused(tmp_path, mutate, "redshift_idc_application.groups[1].group_id", "(found: 'nope')")
    assert_problem(message, "warehouse.base_capacity_rpu", "(found: 12)")
    assert_problem(message, "tags", "'aws:' prefix is reserved")
    assert_problem(message, "colour", "unknown key")
    assert "(4 problems)" in message


def test_zone_problem_is_reported_next_to_a_field_problem(tmp_path: Path) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["availability_zones"][0] = "us-west-2a"
        data["warehouse"]["port"] = 80

    message = check_refused(tmp_path, mutate, "warehouse.port", "(found: 80)")
    assert_problem(message, "availability_zones", "'us-west-2a' is not a zone of region us-east-1")


@pytest.mark.parametrize("url", ["https://example.auth0.com/", "https://idp.example.com:8443/oauth2/default",
                                 "https://login.example.com/tenant-1/v2.0"])
def test_issuer_urls_are_kept_exactly_as_written(url: str) -> None:
    """A trusted token issuer's URL must equal the tokens' `iss` byte for byte: Auth0's ends in a slash."""
    from redshift_idc.config.base import https_issuer_url

    assert https_issuer_url(url) == url


@pytest.mark.parametrize(("url", "expected"), [
    ("https://-", "is not a host name"),
    ("https://..", "is not a host name"),
    ("https://idp..example.com/", "is not a host name"),
    ("https://-idp.example.com", "is not a host name"),
    ("https://idp.example.com:65536/", "port 65536 is not a TCP port"),
    ("https://idp.example.com:0", "port 0 is not a TCP port"),
    ("https://idp.example.com/a/../b", "'..' path segments are not allowed"),
    ("https://idp.example.com/./b", "'..' path segments are not allowed"),
    ("http://idp.example.com", "expected an https:// issuer URL"),
    ("https://idp.example.com/?x=1", "expected an https:// issuer URL"),
])
def test_malformed_issuer_urls_are_refused(url: str, expected: str) -> None:
    from redshift_idc.config.base import https_issuer_url

    with pytest.raises(ValueError, match=re.escape(expected)):
        https_issuer_url(url)
