"""Deprovision settings (`deprovision_users`, `transfer_ownership_to`), checked before anything deploys.

`deprovision_users: true` has the reconciler drop the IdC users who left (runtime/users.py);
`transfer_ownership_to` names who takes over what they own: a role of the model, or `user:<name>` for a
database user.
"""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_identifier
from redshift_idc.runtime.users import DeprovisionSettings


def deprovision_settings(resolver: Resolver) -> DeprovisionSettings | None:
    """The settings the model document carries; None when deprovision_users is off."""
    m = resolver.model
    if m.transfer_ownership_to is not None and not m.deprovision_users:
        fail("transfer_ownership_to", "only with deprovision_users: true (it names who takes over what a "
             "departing user owns)")
    if not m.deprovision_users:
        return None
    if resolver.assigned_groups is not None and not resolver.assigned_groups and not resolver.assigned_users:
        fail("deprovision_users", "the environment assigns no group and no user to the Redshift IdC application "
             "(redshift_idc_application.groups, .users), so every IdC user would count as gone; assign them "
             "or leave deprovision_users off")
    value = m.transfer_ownership_to
    if value is None:
        return DeprovisionSettings(resolver.namespace)
    if value[:5].lower() == "user:":
        try:
            user = validate_identifier(value[5:], "user name")
        except SqlTextError as error:
            fail("transfer_ownership_to", str(error))
        if user.casefold().startswith(("sys:", "ds:")):
            fail("transfer_ownership_to", f"'{user}' uses a prefix Redshift reserves")
        return DeprovisionSettings(resolver.namespace, user, "user")
    if fold(value) == fold(PUBLIC_GRANTEE):
        fail("transfer_ownership_to", "PUBLIC cannot own objects; name a role of the model, or a database user "
             "as user:<name>")
    rendered = resolver.roles.get(fold(value, resolver.cs))
    if rendered is None:
        known = ", ".join(sorted(resolver.roles)) or "none"
        fail("transfer_ownership_to", f"unknown role '{value}'; name a role declared under roles.idc_groups or "
             f"roles.plain (known: {known}), or a database user as user:<name>")
    assert rendered is not None
    return DeprovisionSettings(resolver.namespace, rendered, "role")
