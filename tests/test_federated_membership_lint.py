"""`federated-membership-function`: every RLS or masking policy whose parsed expression calls a membership function
is named (policy, position, function, the AWS page) when the environment registers its namespace; nothing without
federated permissions, and nothing for a name that is not a call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from redshift_idc.access.federated_lints import CODE, federated_membership_lints
from redshift_idc.access.model_file import AccessModel


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
