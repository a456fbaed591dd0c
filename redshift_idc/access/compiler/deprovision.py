"""Deprovision settings (`deprovision_users`, `transfer_ownership_to`), checked before anything deploys.

`deprovision_users: true` has the reconciler drop the IdC users who left (runtime/users.py);
`transfer_ownership_to: user:<name>` names the database user who takes over what they own. Only a user can:
Redshift's owner columns hold user ids (r_SVV_DEFAULT_PRIVILEGES, owner_type "Possible value is user"),
DROP USER's page says to "change its ownership to another user" (r_DROP_USER), and a group or role in an owner
position fails with `user "<name>" does not exist` (brainly/terraform-provider-redshift issue 142); peers
(dbsystel's resource_redshift_user.go, amazon-redshift-utils' v_find_dropuser_objs.sql) transfer to users only.
A role of the model is therefore refused here, with the fix, rather than failing every deploy's batch.
"""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_identifier
from redshift_idc.runtime.users import DeprovisionSettings

OWNERS_ARE_USERS = ("Redshift objects are owned by users only (ALTER ... OWNER TO a role or group fails with "
                    "'user ... does not exist'); name a database user as user:<name>, e.g. user:admin")


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
    if value[:5].lower() != "user:":
        if fold(value) == fold(PUBLIC_GRANTEE):
            fail("transfer_ownership_to", f"PUBLIC cannot own objects: {OWNERS_ARE_USERS}")
        if fold(value, resolver.cs) in resolver.roles:
            fail("transfer_ownership_to", f"'{value}' is a role of the model, and a role cannot take over what a "
                 f"departing user owns: {OWNERS_ARE_USERS}")
        fail("transfer_ownership_to", f"'{value}' does not name a user: {OWNERS_ARE_USERS}")
    try:
        user = validate_identifier(value[5:], "user name")
    except SqlTextError as error:
        fail("transfer_ownership_to", str(error))
    if user.casefold().startswith(("sys:", "ds:")):
        fail("transfer_ownership_to", f"'{user}' uses a prefix Redshift reserves")
    return DeprovisionSettings(resolver.namespace, user, "user")
