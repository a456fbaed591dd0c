"""The order of a plan's statements: the phase each kind of change goes in, and why that order keeps the deploy
safe (README, "Safety guarantees")."""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)

# The order keeps the rule (README, "Safety guarantees"): after every committed batch, what any principal sees
# is contained in what it saw before the deploy or what it sees after it. What a principal sees of a table
# depends on its privileges, on the roles it holds and on the table's restrictions (RLS, its policies and their
# attachments, masking). Privileges alone are monotone: fewer show less, more show more. So:
#
#   1. revokes (narrowing): object privileges, and role grants whose roles carry no RLS or masking attachment;
#   2. lockdown (narrowing): SELECT revoked on the tables of a restriction change too large for one transaction;
#   3. what nothing uses yet: CREATE ROLE, new policies and their lookup grants;
#   4. restriction changes, one group per set of tables they link (a policy altered or rebuilt links the tables
#      it is attached to; a role grant whose roles carry attachments links the tables those roles reach): every
#      RLS and masking change of those tables in one transaction, so each table goes from its old restrictions to
#      its new ones at once. A group too large for a transaction runs while its tables are locked down instead;
#   5. what nothing uses any more: policies no longer attached, lookup grants of dropped policies, DROP ROLE;
#   6. grants (widening), then the lockdown's grants restored.
#
# Default privileges (ALTER DEFAULT PRIVILEGES) change nothing that exists, only what objects created later get:
# their revokes go first among the revokes, their grants last among the grants (REDSHIFT_REFERENCE.md section 8
# puts them with the object grants; no order between them and the others shows anyone more).
#
# Identity providers, external schemas and databases run alone before (create) and after (drop) the batches,
# deprovisioned users after the model.
REVOKE_PHASE: dict[str, int] = {
    DefaultPrivilege.KIND: 9, SystemPrivilege.KIND: 10, ColumnPrivilege.KIND: 11, TablePrivilege.KIND: 12,
    ScopedTablePrivilege.KIND: 13, SchemaPrivilege.KIND: 14, DatabasePrivilege.KIND: 15, RoleGrant.KIND: 16,
}
LOCKDOWN_PHASE = 17
PREPARE_PHASE: dict[str, int] = {Role.KIND: 20, RlsPolicy.KIND: 21, RlsLookupGrant.KIND: 22, MaskingPolicy.KIND: 23}
RESTRICTION_PHASE = 30
CLEANUP_PHASE: dict[str, int] = {RlsLookupGrant.KIND: 40, RlsPolicy.KIND: 41, MaskingPolicy.KIND: 42, Role.KIND: 45}
GRANT_PHASE: dict[str, int] = {
    RoleGrant.KIND: 50, DatabasePrivilege.KIND: 51, SchemaPrivilege.KIND: 52, ScopedTablePrivilege.KIND: 53,
    TablePrivilege.KIND: 54, ColumnPrivilege.KIND: 55, SystemPrivilege.KIND: 56, DefaultPrivilege.KIND: 58,
}
RESTORE_PHASE = 57
# Orders Redshift accepts for creating and for removing objects kind by kind (what a plan does with one kind
# of change at a time); `convergence` visits the desired kinds in CREATE_ORDER.
REMOVE_ORDER: dict[str, int] = {kind: n for n, kind in enumerate((
    DefaultPrivilege.KIND, SystemPrivilege.KIND, ColumnPrivilege.KIND, TablePrivilege.KIND, ScopedTablePrivilege.KIND,
    SchemaPrivilege.KIND, DatabasePrivilege.KIND, RoleGrant.KIND, MaskingAttachment.KIND, RlsTable.KIND,
    RlsAttachment.KIND, RlsLookupGrant.KIND, RlsPolicy.KIND, MaskingPolicy.KIND, Role.KIND))}
CREATE_ORDER: dict[str, int] = {kind: n for n, kind in enumerate((
    Role.KIND, RoleGrant.KIND, DatabasePrivilege.KIND, SchemaPrivilege.KIND, ScopedTablePrivilege.KIND,
    TablePrivilege.KIND, ColumnPrivilege.KIND, RlsPolicy.KIND, RlsLookupGrant.KIND, RlsAttachment.KIND,
    RlsTable.KIND, MaskingPolicy.KIND, MaskingAttachment.KIND, SystemPrivilege.KIND, DefaultPrivilege.KIND))}
# Kinds whose statements are restriction changes of a table (phase 4), and the privileges a lockdown revokes.
RESTRICTION_KINDS = frozenset({RlsAttachment.KIND, RlsTable.KIND, MaskingAttachment.KIND})
POLICY_KINDS = frozenset({RlsPolicy.KIND, MaskingPolicy.KIND})
# Identity provider statements (and external schemas and databases, `external_objects.py`) run alone, outside any
# transaction: create/alter (and a replacement's drop) before every batch, drops after every batch.
IDENTITY_PROVIDER_PHASE = 1
IDENTITY_PROVIDER_DROP_PHASE = 99
# Users who left IAM Identity Center (`deprovision_users`, runtime/users.py): after everything else of the model
# (a role that takes over their objects exists by then), their direct grants revoked, what they own transferred,
# then DROP USER (which refuses a user holding a privilege or owning an object [r_DROP_USER]).
USER_REVOKE_PHASE = 91
USER_TRANSFER_PHASE = 92
USER_DROP_PHASE = 93
