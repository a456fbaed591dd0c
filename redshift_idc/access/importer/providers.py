"""The `identity_providers` section: providers other than the one IAM Identity Center registered for the
environment, with placeholders for what the catalog does not show."""

from __future__ import annotations

import re
from typing import Any

from redshift_idc.access.compiler.identity_providers import APPLICATION_ARN, IAM_ROLE_ARN
from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.access.importer.yaml_text import Path_
from redshift_idc.runtime.catalog_import import provider_parameters, provider_row
from redshift_idc.runtime.sql_text import fold

PLACEHOLDER = "FILL-IN"


def _arn_partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def read_identity_providers(reader: CatalogReader) -> list[dict[str, Any]]:
    namespace = reader.config.redshift_idc_application.identity_namespace
    found: list[dict[str, Any]] = []
    rows = sorted(reader.snapshot.rows.get("identity_provider_definitions", ()), key=lambda r: fold(str(r[0])))
    for row in rows:
        name, type_, idp_namespace, params, enabled, instanceid = provider_row(row)
        name, kind = str(name), str(type_ or "").strip().lower()
        if kind == "awsidc" and fold(str(idp_namespace or "")) == fold(namespace):
            reader.warnings.append(f"identity provider {name} is left out: IAM Identity Center registered it for the "
                                   f"environment's namespace '{namespace}' (the Redshift IdC application); a model "
                                   "must never own it")
            continue
        if kind not in ("awsidc", "azure"):
            reader.warnings.append(f"identity provider {name} is left out: type {type_!r} is not one the model "
                                   "manages (awsidc, azure)")
            continue
        parameters, has_secret = provider_parameters(params)
        if parameters is None:
            reader.warnings.append(f"identity provider {name} is left out: its params are not a JSON object")
            continue
        index = len(found)
        here: Path_ = ("identity_providers", index)
        entry: dict[str, Any] = {"name": name, "type": kind, "namespace": str(idp_namespace or "")}
        notes = ["Redshift does not show AUTO_CREATE_ROLES: unset means its default for the type",
                 "(TRUE for azure, FALSE for awsidc); set auto_create_roles if it was created otherwise."]
        account, region = reader.config.account, reader.config.region
        if kind == "azure":
            if parameters:
                entry["parameters"] = parameters
            if has_secret:
                slug = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "provider"
                entry["client_secret_from"] = (
                    f"secretsmanager:arn:{_arn_partition(region)}:secretsmanager:{region}:{account}:secret:"
                    f"{PLACEHOLDER}-{slug}:client_secret")
                reader.comments[(*here, "client_secret_from")] = [
                    "FILL IN: the catalog blanks the client secret. Name the Secrets Manager secret (and its",
                    "JSON key) that holds it; a deploy reads it only when it sets this provider's parameters."]
                reader.warnings.append(f"identity provider {name}: client_secret_from is a placeholder: fill in the "
                                       "Secrets Manager ARN of its client secret")
        else:
            # The application ARN is `instanceid`, the role `params.iam_role` (netcheck-de/terraform-provider-
            # redshift reads them there); a snapshot written before instanceid was read: any ARN-shaped value.
            values = [v for v in parameters.values() if isinstance(v, str)]
            shown = str(instanceid or "").strip()
            application = shown if APPLICATION_ARN.match(shown) else next(
                (v for v in values if APPLICATION_ARN.match(v)), None)
            shown_role = parameters.get("iam_role")
            role = shown_role.strip() if isinstance(shown_role, str) and IAM_ROLE_ARN.match(shown_role.strip()) \
                else next((v for v in values if IAM_ROLE_ARN.match(v)), None)
            entry["application_arn"] = application or f"{PLACEHOLDER}: the IdC managed application ARN"
            entry["iam_role"] = role or f"{PLACEHOLDER}: the IAM role ARN Redshift uses to reach IdC"
            for key, found_value in (("application_arn", application), ("iam_role", role)):
                if found_value is None:
                    reader.comments[(*here, key)] = ["FILL IN: not shown by SVV_IDENTITY_PROVIDERS (the model does "
                                                     "not validate until it is)"]
            if application is None or role is None:
                reader.warnings.append(f"identity provider {name}: fill in application_arn and iam_role (the "
                                       "catalog does not show them)")
        flag = str(enabled).strip().lower() if not isinstance(enabled, bool) else enabled
        entry["enabled"] = flag not in (False, "f", "false", "0")
        reader.comments[here] = notes
        found.append(entry)
    return found
