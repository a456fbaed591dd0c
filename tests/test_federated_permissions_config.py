"""`warehouse.federated_permissions`: the catalog name, identity propagation's default (on exactly with a Lakehouse
application), and the refusals the AWS pages call for: a Region they list as unsupported, a partition they do not
cover, and propagation through an application that is not a Lakehouse one. Each names file, field and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from redshift_idc.config.federated_permissions import UNSUPPORTED_REGIONS, propagation_on
from tests.test_config import Mutation, check_loads, check_refused, set_at


def federated(**settings: Any) -> Mutation:
    return set_at("warehouse", "federated_permissions", value={"catalog_name": "sales-catalog", **settings})


def lakehouse_application(data: dict[str, Any]) -> None:
    application = data["redshift_idc_application"]
    application["application_type"] = "Lakehouse"
    application["service_integrations"] = {"lake_formation_query": True, "redshift_connect": True}


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(data)
    return mutate


def in_region(region: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["region"] = region
        data["availability_zones"] = [f"{region}a", f"{region}b", f"{region}c"]
    return mutate


def test_without_the_key_nothing_is_registered(tmp_path: Path) -> None:
    config = check_loads(tmp_path, lambda data: None)
    assert config.warehouse.federated_permissions is None


def test_propagation_defaults_on_with_a_lakehouse_application(tmp_path: Path) -> None:
    config = check_loads(tmp_path, both(lakehouse_application, federated()))
    settings = config.warehouse.federated_permissions
    assert settings is not None and settings.catalog_name == "sales-catalog"
    assert settings.identity_propagation is None
    assert propagation_on(settings, config.redshift_idc_application.application_type) is True


def test_propagation_defaults_off_without_a_lakehouse_application(tmp_path: Path) -> None:
    config = check_loads(tmp_path, federated())
    settings = config.warehouse.federated_permissions
    assert settings is not None
    assert propagation_on(settings, config.redshift_idc_application.application_type) is False


def test_propagation_can_be_turned_off_with_a_lakehouse_application(tmp_path: Path) -> None:
    config = check_loads(tmp_path, both(lakehouse_application, federated(identity_propagation=False)))
    settings = config.warehouse.federated_permissions
    assert settings is not None
    assert propagation_on(settings, "Lakehouse") is False


@pytest.mark.parametrize("application_type", [None, "None"])
def test_propagation_without_a_lakehouse_application_is_refused(tmp_path: Path,
                                                                application_type: str | None) -> None:
    def typed(data: dict[str, Any]) -> None:
        if application_type is not None:
            data["redshift_idc_application"]["application_type"] = application_type
    check_refused(tmp_path, both(typed, federated(identity_propagation=True)),
                  "warehouse.federated_permissions.identity_propagation",
                  "type Lakehouse", "set it to Lakehouse", "identity_propagation: false")


@pytest.mark.parametrize("region", sorted(UNSUPPORTED_REGIONS))
def test_a_region_the_page_lists_as_unsupported_is_refused(tmp_path: Path, region: str) -> None:
    check_refused(tmp_path, both(in_region(region), federated()), "warehouse.federated_permissions",
                  f"not offered in {region}", UNSUPPORTED_REGIONS[region], "federated-permissions-considerations",
                  "another Region, or remove federated_permissions")


def test_a_region_outside_the_commercial_partition_is_refused(tmp_path: Path) -> None:
    check_refused(tmp_path, both(in_region("us-gov-west-1"), federated()), "warehouse.federated_permissions",
                  "us-gov-west-1 is outside the commercial partition", "remove federated_permissions")


def test_an_unsupported_region_without_federated_permissions_loads(tmp_path: Path) -> None:
    assert check_loads(tmp_path, in_region("eu-south-1")).region == "eu-south-1"


@pytest.mark.parametrize(("name", "expected"), [
    ("Sales", "with at least one letter, e.g. sales-catalog"), ("sales catalog", "'_' and '-'"),
    ("123", "with at least one letter"), ("", "empty: write a value"), ("a" * 65, "at most 64"),
])
def test_a_catalog_name_the_api_refuses_is_refused(tmp_path: Path, name: str, expected: str) -> None:
    check_refused(tmp_path, set_at("warehouse", "federated_permissions", value={"catalog_name": name}),
                  "warehouse.federated_permissions.catalog_name", expected)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    check_refused(tmp_path, federated(catalog="x"), "warehouse.federated_permissions.catalog", "unknown key")



def test_the_warehouse_stack_registers_the_namespace_with_least_privilege(tmp_path: Path) -> None:
    """One synth (both nag packs, as `make synth`, so nag-clean): the custom resource with the configured properties,
    its role allowed exactly the registration's actions on this namespace and catalog, every resource type in the
    deployer's execution policy, and no cfn-lint error."""
    pytest.importorskip("aws_cdk")
    from aws_cdk.assertions import Match
    from cfnlint.api import ManualArgs, lint

    from redshift_idc.cdk.components.lakehouse_registration import CATALOG_ACTIONS, NAMESPACE_ACTIONS
    from redshift_idc.cdk.deployer_policy import uncovered_types
    from tests.conftest import synthesize

    config = check_loads(tmp_path, both(lakehouse_application, federated()))
    synthesized = synthesize(config, tmp_path / "out")
    template = synthesized.warehouse
    assert uncovered_types([synthesized.template_json()]) == []
    path = synthesized.outdir / "GoodWarehouse.template.json"
    errors = [str(m) for m in lint(path.read_text(), config=ManualArgs(regions=[config.region]))
              if m.rule.id.startswith("E")]
    assert errors == []
    template.has_resource_properties("Custom::LakehouseRegistration", {
        "NamespaceName": config.warehouse.namespace_name, "CatalogName": "sales-catalog",
        "IdentityPropagation": "true",
        "IdcApplicationArn": {"Fn::GetAtt": [Match.string_like_regexp("IdcApplication"), "RedshiftIdcApplicationArn"]},
    })
    namespace_arn = {"Fn::GetAtt": [Match.string_like_regexp("WarehouseNamespace"), "Namespace.NamespaceArn"]}
    catalogs = f"arn:aws:glue:{config.region}:{config.account}:catalog"
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        {"Action": sorted(NAMESPACE_ACTIONS), "Effect": "Allow", "Resource": namespace_arn},
        {"Action": sorted(CATALOG_ACTIONS), "Effect": "Allow", "Resource": [catalogs, f"{catalogs}/sales-catalog"]},
    ])}})
