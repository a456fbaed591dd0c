"""Typed, validated environment configuration (`config/<name>.yaml`): the whole document, and its loading.

Everything a deploy depends on is read here, once, and checked before any construct exists, so a
typo fails `make synth` with the file, the field path and the fix instead of failing a deploy. Each
section's schema lives in its own module; this one puts them together and checks what spans sections.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from redshift_idc import project
from redshift_idc.config.apply_estimate import ApplyEstimateConfig
from redshift_idc.config.base import AccountId, Region, StrictModel
from redshift_idc.config.connections import IamFederationConfig, IdentityPropagationConfig, QueryEditorV2Config
from redshift_idc.config.errors import ConfigError, Origins, format_validation_error, not_a_mapping
from redshift_idc.config.federated_permissions import check_federated_permissions
from redshift_idc.config.identity_center import IdentityCenterConfig, RedshiftIdcApplicationConfig
from redshift_idc.config.warehouse import EXTENDED_RPU_REGIONS, Network, WarehouseConfig
from redshift_idc.config.yaml_files import (
    BASE_PREFIX,
    EXTENDS_KEY,
    available_environments,
    merge_layer,
    read_environment_layers,
)

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+@-]*$")]


class EnvironmentConfig(StrictModel):
    """One deployable environment. `name` is the file's stem, set by the loader."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    account: AccountId
    region: Region
    availability_zones: tuple[str, str, str]
    identity_center: IdentityCenterConfig
    redshift_idc_application: RedshiftIdcApplicationConfig
    warehouse: WarehouseConfig
    network: Network
    access_model: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")] | None = Field(
        default=None, description="name of access/<model>.yaml the reconciler applies; omit for none")
    apply_estimate: ApplyEstimateConfig = Field(
        default_factory=ApplyEstimateConfig, description="what the first deploy's apply estimate prices a step at")
    identity_propagation: IdentityPropagationConfig | None = None
    query_editor_v2: QueryEditorV2Config | None = None
    iam_federation: IamFederationConfig | None = None
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _no_aws_prefix(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}': the 'aws:' prefix is reserved for AWS")
        return value

    # Field validators, not a model validator: pydantic skips after-model validators once any field
    # failed, which would hide these problems behind unrelated ones. `region` is declared first, so it
    # is in `info.data` whenever it is valid.
    @field_validator("availability_zones", mode="before")
    @classmethod
    def _three_zones(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list | tuple) and len(value) != 3:
            region = info.data.get("region") or "the region"
            given = ", ".join(map(str, value)) or "none"
            raise ValueError(f"three zones of {region} are needed, e.g. [{region}a, {region}b, {region}c] (given "
                             f"{len(value)}: {given})")
        return value

    @field_validator("availability_zones")
    @classmethod
    def _zones_in_region(cls, value: tuple[str, str, str], info: ValidationInfo) -> tuple[str, str, str]:
        region = info.data.get("region")
        for zone in value:
            if region is not None and not re.fullmatch(re.escape(region) + r"[a-z]", zone):
                raise ValueError(f"'{zone}' is not a zone of region {region} (expected e.g. '{region}a')")
        if len(set(value)) != 3:
            raise ValueError("three distinct zones are required")
        return value

    @field_validator("warehouse")
    @classmethod
    def _capacity_offered_in_region(cls, value: WarehouseConfig, info: ValidationInfo) -> WarehouseConfig:
        region = info.data.get("region")
        base = value.base_capacity_rpu
        if region is not None and base is not None and base > 512 and region not in EXTENDED_RPU_REGIONS:
            raise ValueError(f"base_capacity_rpu: above 512 RPU is offered only in "
                             f"{', '.join(sorted(EXTENDED_RPU_REGIONS))}, not in {region}")
        return value

    @field_validator("warehouse")
    @classmethod
    def _federated_permissions_offered(cls, value: WarehouseConfig, info: ValidationInfo) -> WarehouseConfig:
        application = info.data.get("redshift_idc_application")
        if value.federated_permissions is not None:
            check_federated_permissions(value.federated_permissions, region=info.data.get("region"),
                                        application_type=application.application_type if application else None)
        return value

    @field_validator("identity_propagation")
    @classmethod
    def _one_issuer_per_url(cls, value: IdentityPropagationConfig | None,
                            info: ValidationInfo) -> IdentityPropagationConfig | None:
        application = info.data.get("redshift_idc_application")
        if value is None or application is None:
            return value
        for index, issuer in enumerate(application.trusted_token_issuers):
            if issuer.issuer_url == value.issuer_url:
                raise ValueError(f"issuer_url: {value.issuer_url} is also redshift_idc_application."
                                 f"trusted_token_issuers[{index}]; IAM Identity Center keeps one trusted token issuer "
                                 "per issuer URL and identity_propagation makes its own: use another issuer (e.g. "
                                 "another authorization server of the IdP) for one of them")
        return value

    @field_validator("query_editor_v2")
    @classmethod
    def _qev2_groups_assigned(cls, value: QueryEditorV2Config | None,
                              info: ValidationInfo) -> QueryEditorV2Config | None:
        application = info.data.get("redshift_idc_application")
        if value is None or application is None:
            return value
        assigned = {g.display_name.lower() for g in application.groups}
        for index, group in enumerate(value.groups):
            if group.display_name.lower() not in assigned:
                raise ValueError(f"groups[{index}]: '{group.display_name}' is not assigned to the Redshift IdC "
                                 "application (redshift_idc_application.groups); its users would get 'Invalid scope' "
                                 "when Query Editor v2 connects: add it there")
        return value

    @field_validator("iam_federation")
    @classmethod
    def _one_oidc_provider_per_url(cls, value: IamFederationConfig | None,
                                   info: ValidationInfo) -> IamFederationConfig | None:
        propagation = info.data.get("identity_propagation")
        if value is None or propagation is None or value.provider.issuer_url != propagation.issuer_url:
            return value
        raise ValueError(f"provider.issuer_url: {propagation.issuer_url} is also identity_propagation.issuer_url; "
                         "IAM allows one OIDC provider per issuer URL in an account and identity propagation "
                         "creates it: use another issuer (e.g. another authorization server of the IdP)")

    @property
    def stack_prefix(self) -> str:
        """Stack names start with this so several environments can share one account."""
        return "".join(part.capitalize() for part in self.name.split("-"))


def parse_environment(data: Mapping[str, Any], *, name: str, source: Path, origins: Origins | None = None,
                      bases: Sequence[Path] = ()) -> EnvironmentConfig:
    """Validate already-parsed YAML; `source` (and `origins`/`bases`, see `load_environment`) only word errors."""
    if not isinstance(data, Mapping):
        raise not_a_mapping(source, data, "region: us-east-1")
    if "name" in data:
        raise ConfigError(f"{project.shown(source)}: name: unknown key; the environment's name is the file name "
                          f"('{name}'): remove it")
    try:
        return EnvironmentConfig.model_validate({**data, "name": name})
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error, EnvironmentConfig, origins=origins,
                                                  bases=bases)) from None


def load_environment(name: str, config_dir: Path | None = None) -> EnvironmentConfig:
    """Read and validate `config/<name>.yaml`, merged over the files it `extends`."""
    config_dir = config_dir or project.config_dir()
    real = config_dir / f"{name}.yaml"
    path = project.shown(real)  # as messages name it
    known = ", ".join(available_environments(config_dir)) or "none"
    if name.startswith(BASE_PREFIX):
        raise ConfigError(f"{path}: '{name}' is a base for `{EXTENDS_KEY}: {name}` (files starting with "
                          f"'{BASE_PREFIX}' are never deployed), not an environment (known: {known})")
    if not real.is_file():
        environments = available_environments(config_dir)
        close = [e for e in environments if e == name.lower()] or difflib.get_close_matches(name.lower(), environments,
                                                                                           n=1)
        if close:
            raise ConfigError(f"{path}: no such environment '{name}'; did you mean '{close[0]}'? (known: {known})")
        suggested = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "my-env"
        if not suggested[0].isalpha():
            suggested = f"env-{suggested}"
        raise ConfigError(f"{path}: no such environment '{name}' (known: {known}); to add one, copy config/demo.yaml "
                          f"to config/{suggested[:31]}.yaml (environment names are lower-case letters, digits and "
                          "hyphens, starting with a letter)")
    layers = read_environment_layers(name, config_dir)
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for source, layer in layers:
        merge_layer(merged, layer, source, origins)
    return parse_environment(merged, name=name, source=path, origins=origins, bases=[p for p, _ in layers[:-1]])
