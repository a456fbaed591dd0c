"""`federated-membership-function`: with Redshift federated permissions on (`warehouse.federated_permissions`), an
RLS or masking policy that calls `user_is_member_of`, `role_is_member_of` or `user_is_member_of_role` makes the
objects it protects unreadable from every other warehouse of the account ("Considerations when using Amazon Redshift
federated permissions", "Fine-grained access control restrictions"): the registration is then of no use for them.

The calls are read from the parsed expression (`functions.calls`), not matched in its text: a column or a string
literal that merely contains the name is not a call. Each finding is a `PreviewWarning`, accepted like the others by
an `allow_warnings` entry with its reason.
"""

from __future__ import annotations

from redshift_idc.access.functions import calls
from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.results import PreviewWarning
from redshift_idc.runtime.sql_text import fold

CODE = "federated-membership-function"
MEMBERSHIP_FUNCTIONS = ("user_is_member_of", "role_is_member_of", "user_is_member_of_role")
CONSIDERATIONS = "https://docs.aws.amazon.com/redshift/latest/dg/federated-permissions-considerations.html"
# A system function may also be written qualified by the system schema.
_SYSTEM_SCHEMAS = (None, "pg_catalog")


def federated_membership_lints(model: AccessModel, *, federated: bool, environment: str) -> list[PreviewWarning]:
    """One warning per RLS or masking policy that calls a membership function, when `federated` (the environment
    registers its namespace); none otherwise. In the order of the model file."""
    if not federated:
        return []
    found: list[PreviewWarning] = []
    for kind, field, index, policy in model.policies():
        called = [call.name for call in calls(policy.using)
                  if fold(call.name) in MEMBERSHIP_FUNCTIONS
                  and (fold(call.schema) if call.schema else None) in _SYSTEM_SCHEMAS]
        if not called:
            continue
        found.append(PreviewWarning(CODE, (
            f"access/{model.name}.yaml: {field}.policies[{index}]: {kind} policy {policy.name} calls "
            f"{', '.join(f'{name}()' for name in dict.fromkeys(called))}, and config/{environment}.yaml registers "
            "the namespace with federated permissions (warehouse.federated_permissions): other warehouses "
            f"cannot read the objects this policy protects ({CONSIDERATIONS}, \"Fine-grained access control "
            "restrictions\"). Test the user against a lookup table instead (a policy comparing the table's "
            "user_name column with current_user, as access/sample-lakehouse.yaml does), or accept the warning "
            "in allow_warnings with the reason")))
    return found
