"""What the conformance recorder creates: its scratch schema and tables, and the access model it applies in two
deploys (`first_model`, then `second_model`, whose differences make the planner emit every ALTER, REVOKE,
DETACH and DROP form), all named with the `conformance_` prefix so that cleanup can never reach anything else.

The model is built from the project's own object types, so the SQL it applies is what `planning/object_sql.py`
renders today (a changed form is recorded as changed). Objects that need an AWS resource outside the
workgroup are added only when the caller names that resource: an IAM Identity Center application and its
role (`--with-idc`), a Glue Data Catalog database (`--with-glue`), a datashare (`--with-datashare`).
"""

from __future__ import annotations

from dataclasses import dataclass

from redshift_idc.runtime.access_state import (
    TABLE_PRIVILEGES,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
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
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.sql_text import quote_ident, quote_qualified

PREFIX = "conformance_"
MODEL = "conformance"
# The objects that need an AWS resource outside the workgroup are another model's (one owner per object): the
# recorded model never names the caller's ARNs, and the replay of it sees them as another model's.
EXTRAS_MODEL = "conformance_extras"
SCHEMA = "conformance_s"
LEDGER = LedgerTables("conformance_ledger")
# The IdC namespace whose users `users.user_queries` read: one no real user has, so a recording never holds the
# names of a workgroup's people (the queries still run, and their SQL is checked).
USERS_NAMESPACE = "conformance_nobody"
SALES, LOOKUP, OTHER = "conformance_sales", "conformance_lookup", "conformance_other"
# Column name -> type: unquoted lower-case names, the types a new table takes (VARCHAR and INTEGER, NOT NULL).
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    SALES: (("region", "VARCHAR(64)"), ("email", "VARCHAR(256)"), ("amount", "INTEGER"), ("seller", "VARCHAR(128)")),
    LOOKUP: (("region", "VARCHAR(64)"), ("role_name", "VARCHAR(128)")),
    OTHER: (("region", "VARCHAR(64)"), ("amount", "INTEGER")),
}
READER, ANALYST, ADMIN, GONE = "conformance_reader", "conformance_analyst", "conformance_admin", "conformance_gone"
PUBLIC = "PUBLIC"


@dataclass(frozen=True)
class Extras:
    """The AWS resources outside the workgroup the caller named, each enabling the forms that need it."""

    idc_application_arn: str = ""
    idc_role_arn: str = ""
    glue_database: str = ""
    datashare_arn: str = ""

    @property
    def idc(self) -> bool:
        return bool(self.idc_application_arn and self.idc_role_arn)

    @property
    def glue(self) -> bool:
        return bool(self.glue_database)

    @property
    def datashare(self) -> bool:
        return bool(self.datashare_arn)

    def placeholders(self) -> dict[str, str]:
        """Each named resource and what a recording says instead (its JSON text holds none of them)."""
        named = {self.idc_application_arn: "<--with-idc APPLICATION_ARN>", self.idc_role_arn: "<--with-idc ROLE_ARN>",
                 self.glue_database: "<--with-glue GLUE_DATABASE>", self.datashare_arn: "<--with-datashare ARN>"}
        return {value: placeholder for value, placeholder in named.items() if value}

    def flags(self) -> dict[str, bool]:
        """What the recording says it covered (never the ARNs: a recording is meant to be published)."""
        return {"idc": self.idc, "glue": self.glue, "datashare": self.datashare}


def setup_sql() -> list[str]:
    """The scratch schema and tables (not planner forms: the model needs tables to grant on), idempotent."""
    sql = [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(SCHEMA)}"]
    for table, columns in TABLES.items():
        body = ", ".join(f"{name} {type_} NOT NULL" for name, type_ in columns)
        sql.append(f"CREATE TABLE IF NOT EXISTS {quote_qualified(SCHEMA, table)} ({body})")
    return sql


def teardown_sql() -> list[str]:
    """The schemas the recorder made, with whatever is left in them (its tables, its ledger)."""
    return [f"DROP SCHEMA IF EXISTS {quote_ident(SCHEMA)} CASCADE",
            f"DROP SCHEMA IF EXISTS {quote_ident(LEDGER.schema)} CASCADE"]


# The policies: WITH columns as (name, type), USING as a model would write it.
REGION = (("region", "VARCHAR(64)"),)
EMAIL = (("email", "VARCHAR(256)"),)
P_REGION = RlsPolicy("conformance_p_region", REGION, "region = 'EMEA'")
P_REGION_2 = RlsPolicy("conformance_p_region", REGION, "region = 'APAC' OR region LIKE 'EU%'")
LOOKUP_Q = quote_qualified(SCHEMA, LOOKUP)
# A lookup subquery (the table is granted to the policy: GRANT SELECT ... TO RLS POLICY), names quoted.
P_LOOKUP = RlsPolicy("conformance_p_lookup", REGION, " ".join((
    "region IN (SELECT region FROM", LOOKUP_Q, "WHERE role_name = current_user)")))
P_OPEN = RlsPolicy("conformance_p_open", (), "true")
P_DROP = RlsPolicy("conformance_p_drop", REGION, "region <> 'none'")
M_FULL = MaskingPolicy("conformance_m_full", EMAIL, "CAST('redacted' AS VARCHAR(256))")
M_FULL_2 = MaskingPolicy("conformance_m_full", EMAIL, "CAST('hidden' AS VARCHAR(256))")
M_TWO = MaskingPolicy("conformance_m_two", (*EMAIL, *REGION),
                      "CASE WHEN region = 'EMEA' THEN email ELSE CAST('masked' AS VARCHAR(256)) END")
M_HASH = MaskingPolicy("conformance_m_hash", EMAIL, "SHA2(email, 256)")
M_DROP = MaskingPolicy("conformance_m_drop", EMAIL, "LOWER(email)")


def _common() -> list[AccessObject]:
    """What both models hold, unchanged between the two deploys."""
    items: list[AccessObject] = [Role(READER), Role(ANALYST), Role(ADMIN), RoleGrant(READER, ANALYST)]
    items += [SchemaPrivilege(SCHEMA, "USAGE", grantee) for grantee in (READER, ANALYST, ADMIN, PUBLIC)]
    items += [SchemaPrivilege(SCHEMA, privilege, ADMIN) for privilege in ("CREATE", "ALTER", "DROP")]
    items += [ScopedTablePrivilege(SCHEMA, "SELECT", ANALYST)]
    items += [TablePrivilege(SCHEMA, SALES, privilege, ADMIN) for privilege in TABLE_PRIVILEGES
              if privilege != "TRUNCATE"]
    items += [TablePrivilege(SCHEMA, SALES, "SELECT", READER), TablePrivilege(SCHEMA, OTHER, "SELECT", PUBLIC),
              ColumnPrivilege(SCHEMA, SALES, "region", "SELECT", ANALYST),
              SystemPrivilege("IGNORE RLS", ADMIN), SystemPrivilege("EXPLAIN RLS", ANALYST)]
    items += [P_LOOKUP, P_OPEN, RlsLookupGrant(SCHEMA, LOOKUP, P_LOOKUP.name),
              RlsAttachment(P_REGION.name, SCHEMA, SALES, READER), RlsAttachment(P_OPEN.name, SCHEMA, SALES, PUBLIC),
              RlsAttachment(P_REGION.name, SCHEMA, OTHER, READER)]
    items += [M_TWO, M_HASH,
              MaskingAttachment(M_FULL.name, SCHEMA, SALES, ("email",), READER, ("email",), 10),
              MaskingAttachment(M_HASH.name, SCHEMA, SALES, ("email",), PUBLIC, ("email",), 5)]
    return items


def _defaults(creator: str) -> list[AccessObject]:
    """Default privileges both models hold, for objects `creator` (the namespace admin the recorder signs in as: the
    one user a new workgroup has) creates later: in the recorder's schema on tables (TRUNCATE and DROP too, whose
    spelling in SVV_DEFAULT_PRIVILEGES the page does not show) and to PUBLIC, and database-wide on procedures. None
    without a creator (a recorder that has not read who it is)."""
    if not creator:
        return []
    return [DefaultPrivilege(creator, SCHEMA, "TABLES", "SELECT", READER),
            DefaultPrivilege(creator, SCHEMA, "TABLES", "TRUNCATE", ADMIN),
            DefaultPrivilege(creator, SCHEMA, "TABLES", "SELECT", PUBLIC),
            DefaultPrivilege(creator, "", "PROCEDURES", "EXECUTE", ANALYST)]


def _defaults_gone(creator: str) -> list[AccessObject]:
    """Default privileges of the first deploy only: the second revokes them (REVOKE DROP, whose REVOKE the page's
    grammar leaves out; one to the role it drops, before DROP ROLE; a database-wide one on functions)."""
    if not creator:
        return []
    return [DefaultPrivilege(creator, SCHEMA, "TABLES", "DROP", ADMIN),
            DefaultPrivilege(creator, SCHEMA, "TABLES", "INSERT", GONE),
            DefaultPrivilege(creator, "", "FUNCTIONS", "EXECUTE", READER)]


def extras_model(extras: Extras, *, second: bool = False) -> AccessState:
    """The objects the `--with-*` flags enable, deployed as `EXTRAS_MODEL`; the second deploy moves the identity
    provider to another namespace (ALTER IDENTITY PROVIDER ... NAMESPACE)."""
    items: list[AccessObject] = []
    if extras.idc:
        items.append(IdentityProvider("conformance_idp", "awsidc", "conformance_ns2" if second else "conformance_ns",
                                      application_arn=extras.idc_application_arn, iam_role=extras.idc_role_arn))
    if extras.glue:
        items += [ExternalSchema("conformance_lake", extras.glue_database),
                  SchemaPrivilege("conformance_lake", "USAGE", READER)]
    if extras.datashare:
        items += [ExternalDatabase("conformance_share", extras.datashare_arn),
                  DatabasePrivilege("conformance_share", "USAGE", READER)]
    return AccessState.of(items)


def first_model(creator: str = "") -> AccessState:
    """The first deploy: every CREATE, GRANT and ATTACH form, and what the second deploy will take away. `creator`:
    the user whose later objects get the models' default privileges (none without one)."""
    return AccessState.of([
        *_common(), *_defaults(creator), *_defaults_gone(creator), P_REGION, M_FULL, P_DROP, M_DROP, Role(GONE),
        RoleGrant(GONE, ADMIN),
        TablePrivilege(SCHEMA, SALES, "TRUNCATE", ADMIN), ColumnPrivilege(SCHEMA, SALES, "amount", "UPDATE", ANALYST),
        ScopedTablePrivilege(SCHEMA, "INSERT", ANALYST), SystemPrivilege("EXPLAIN MASKING", ANALYST),
        RlsAttachment(P_LOOKUP.name, SCHEMA, SALES, ANALYST),
        MaskingAttachment(M_TWO.name, SCHEMA, SALES, ("email",), ANALYST, ("email", "region"), 20),
        MaskingAttachment(M_DROP.name, SCHEMA, OTHER, ("region",), ANALYST, ("region",), 1),
        RlsTable(SCHEMA, SALES, "AND"), RlsTable(SCHEMA, OTHER, "OR"),
    ])


def second_model(creator: str = "") -> AccessState:
    """The second deploy, the model a recording lists: policies altered (ALTER ... USING), a conjunction changed,
    one table's RLS turned off, a role, policies, grants, attachments and default privileges gone (DROP, REVOKE,
    DETACH)."""
    return AccessState.of([*_common(), *_defaults(creator), P_REGION_2, M_FULL_2, RlsTable(SCHEMA, SALES, "OR")])


def tables_declared() -> list[tuple[str, str]]:
    return [(SCHEMA, table) for table in TABLES]
