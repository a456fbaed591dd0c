"""Where each row the fakes return to a catalog read query gets its shape: evidence, not belief (issue 21).

`ROW_SHAPES` maps every catalog query the runtime sends (by the name `catalog.read_queries`, `identity_queries`,
`catalog_import.definition_queries` / `ledger_table_query` / `column_queries`, `users.user_queries` with
`user_blockers.blocker_queries`, `fence` and `catalog.other_ledger_queries` give it) to the row the fakes answer
with (`fake_data_api.svv_rows` / `fake_rows`, `FakeRedshift.definition_rows` / `user_rows` / `blocker_rows` /
`view_rows`, `fake_catalog.CatalogDataApi`, and the fake's own tables for the ledger SELECTs), the source of that
shape and its status:

- `documented`: an AWS Database Developer Guide page (`r_SVV_ROLES` is
  https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_ROLES.html) gives the columns and, where a value's form
  matters, shows it in its example; REDSHIFT_REFERENCE.md tags ([D1] ...) resolve to those pages;
- `seen on a real cluster (<source>)`: a peer's code that ran on real clusters reads it that way
  (netcheck-de/terraform-provider-redshift, dbsystel/terraform-provider-redshift, awslabs/amazon-redshift-utils,
  gravitational/teleport);
- `assumed`: neither settles it; the fake answers what we believe.

`open` lists what in a shape is assumed (a whole `assumed` shape has at least one entry, a documented shape may
carry an assumed detail): each is an open question for the README's Redshift notes (`open_questions()`), to be
answered by a recording of a real workgroup (`python -m redshift_idc conformance`). tests/test_fake_evidence.py
fails when the runtime sends a catalog query that has no entry here, when an entry names a query the runtime no
longer sends, or when the fake's rows are not as wide as the query's SELECT list.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCUMENTED = "documented"
SEEN = "seen on a real cluster"  # always followed by its source in parentheses
ASSUMED = "assumed"


@dataclass(frozen=True)
class Shape:
    """One query's row as the fakes answer it. `row`: its cells in order and their value forms."""

    row: str
    source: str
    status: str
    open: tuple[str, ...] = ()


# Names the runtime numbers or suffixes: `columns_<n>` (catalog_import.column_queries) and
# `ledger_models:<schema>` (catalog.other_ledger_queries).
NAME_PATTERNS = {"columns_": "columns_*", "ledger_models:": "ledger_models:*"}


def pattern_of(name: str) -> str:
    """The registry key of a query name (`columns_3` -> `columns_*`)."""
    for prefix, key in NAME_PATTERNS.items():
        if name.startswith(prefix):
            return key
    return name


_OWN_TABLE = ("the SELECT list over the project's own table (runtime/ledger.py, runtime/fence.py create it); cells "
              "as the Data API returns VARCHAR and BIGINT (stringValue, longValue: botocore redshift-data Field [A1])")

ROW_SHAPES: dict[str, Shape] = {
    # ---- who reads (catalog.WHOAMI_QUERY, `verify`)
    "whoami": Shape(
        "(user_name text, superuser boolean, COUNT(*) bigint: 1 when the reader holds sys:secadmin explicitly, else 0, "
        "current_database() name); one row, the reader's own",
        "r_SVV_USER_INFO [D4]: user_name text, superuser boolean, every user sees its own row; r_SVV_USER_GRANTS [D3]: "
        "one row per role granted explicitly to a user (user_name, role_name); `GRANT ROLE \"sys:secadmin\" TO \"u\"` "
        "works on a real cluster (gravitational/teleport, REDSHIFT_REFERENCE.md 9.1 answer 1); r_CURRENT_DATABASE; a "
        "scalar subquery in a select list (r_Subquery_examples)",
        DOCUMENTED,
        ("That Redshift runs the count of SVV_USER_GRANTS as a scalar subquery in the select list of the "
         "SVV_USER_INFO query, beside current_database() (each is documented; the three were separate queries "
         "before, and no example combines these views).",)),
    # ---- roles and grants (catalog.read_queries)
    "roles": Shape(
        "(role_name text); the system roles sys:superuser, sys:secadmin, sys:dba, sys:operator, sys:monitor listed "
        "too",
        "r_SVV_ROLES [D1]; the system roles r_roles-default [D23]",
        DOCUMENTED,
        ("Whether SVV_ROLES keeps the case of a quoted role name (`AWSIDC:Sales`) or folds it (REDSHIFT_REFERENCE.md "
         "9.1 answer 3; issue 21 item 8, decided by the role-case change, not here).",)),
    "role_grants": Shape(
        "(role_name = the grantee role, granted_role_name = the role granted)",
        "r_SVV_ROLE_GRANTS [D2] (example: GRANT ROLE role1 TO ROLE role2 gives role_name role2); seen on a real "
        "cluster (netcheck-de/terraform-provider-redshift role_grant_sql.go, brainly's resource_redshift_role_grant.go "
        "[O3] read it the same way)",
        DOCUMENTED),
    "schema_privileges": Shape(
        "(namespace_name, privilege_type upper case, identity_name, privilege_scope 'SCHEMA' | 'TABLES', "
        "identity_type 'role' | 'public'); PUBLIC's identity_name 'public'",
        "r_SVV_SCHEMA_PRIVILEGES [D6]: identity_type user/role/group/public, privilege_scope SCHEMA/TABLES/FUNCTIONS, "
        "example `test_schema1 | USAGE | role1 | role`; scoped FOR TABLES IN SCHEMA grants as privilege_scope TABLES "
        "(r_GRANT [D24], t_scoped-permissions)",
        DOCUMENTED),
    "relation_privileges": Shape(
        "(namespace_name, relation_name, privilege_type upper case, identity_name, identity_type 'role' | 'public')",
        "r_SVV_RELATION_PRIVILEGES [D5] (identity_type user/role/group/public, privilege_type upper case in its "
        "example); ALTER and TRUNCATE rows seen on a real cluster through dbsystel's reads (REDSHIFT_REFERENCE.md 9.1 "
        "answer 9)",
        DOCUMENTED),
    "column_privileges": Shape(
        "(namespace_name, relation_name, column_name, privilege_type SELECT | UPDATE, identity_name, identity_type)",
        "r_SVV_COLUMN_PRIVILEGES [D7]",
        DOCUMENTED),
    "system_privileges": Shape(
        "(system_privilege spelled as GRANT spells it: 'IGNORE RLS', 'EXPLAIN RLS', 'EXPLAIN MASKING'; identity_name)",
        "r_SVV_SYSTEM_PRIVILEGES [D9] (example `ALTER TABLE | sys:superuser | role`); seen on a real cluster "
        "(netcheck-de/terraform-provider-redshift system_grant_sql.go reads `system_privilege` of identity_type "
        "'role' and compares it with GRANT's keywords)",
        DOCUMENTED),
    "database_privileges": Shape(
        "(database_name, privilege_type, identity_name, identity_type, privilege_scope 'DATABASE' | 'SCHEMAS' | "
        "'TABLES' | 'FUNCTIONS' | 'LANGUAGES')",
        "r_SVV_DATABASE_PRIVILEGES, t_scoped-permissions (issue 21 item 2; FakeRedshift.view_rows)",
        DOCUMENTED),
    "default_privileges": Shape(
        "(schema_name NULL for a database-wide entry, object_type RELATION | FUNCTION | PROCEDURE, owner_name, "
        "privilege_type upper case as GRANT spells it, grantee_name, grantee_type 'role' | 'public'); one row per "
        "privilege; PUBLIC's grantee_name 'public'",
        "r_SVV_DEFAULT_PRIVILEGES [D8]: the columns, object_type RELATION/FUNCTION/PROCEDURE, grantee_type "
        "user/role/public, its sample output (`public | RELATION | 106 | u1 | user | UPDATE | 107 | u2 | user | f`, "
        "one row per privilege, grantee_name shown though the column table leaves it out); seen on a real cluster: "
        "netcheck-de/terraform-provider-redshift reads grantee_name (`grantee_name = :grantee AND grantee_type = "
        "LOWER(:kind)` in its recorded acceptance SQL) and NULL schema_name for database-wide entries "
        "(REDSHIFT_REFERENCE.md 9.1 answer 2)",
        f"{SEEN} (netcheck-de/terraform-provider-redshift default privileges acceptance SQL)",
        ("Whether a database-wide entry's schema_name is NULL (the fake's answer, netcheck's reading) or '' "
         "(netcheck accepts it too): the reader takes both as database-wide.",
         "That grantee_name exists on every workgroup (the page's column table leaves it out; its sample and peers "
         "read it): if it did not, the read batch would fail naming the column, loudly, before any change.",
         "PUBLIC's grantee_name (the reader keys PUBLIC on grantee_type alone).",
         "Whether TRUNCATE and DROP rows appear spelled as GRANT spells them (the page's privilege_type list is "
         "PostgreSQL's: INSERT, SELECT, UPDATE, DELETE, RULE, REFERENCES, TRIGGER, DROP, EXECUTE); a spelling the "
         "statement cannot take is reported as an ignored row, never planned, and the model's privilege is then "
         "granted again on every deploy, which a recording would show.")),
    # ---- row-level security
    "rls_attachments": Shape(
        "(relschema, relname, polname, grantee, granteekind 'role'); PUBLIC as grantee 'public', granteekind "
        "'public'",
        "r_SVV_RLS_ATTACHED_POLICY [D11]: granteekind \"user or role\", example `analyst | role`; "
        "netcheck-de/terraform-provider-redshift rls_policy_attachment_sql.go matches PUBLIC \"by its grantee name "
        "alone\", so no peer shows its granteekind",
        DOCUMENTED,
        ("How SVV_RLS_ATTACHED_POLICY shows an attachment TO PUBLIC: grantee 'public' and granteekind 'public' "
         "(what the fake answers and the reader manages), or another granteekind (then the reader reports it as not "
         "managed and the planner attaches it again) (REDSHIFT_REFERENCE.md 9 question 8).",)),
    "rls_relations": Shape(
        "(relschema, relname, is_rls_on boolean true, TRIM(rls_conjunction_type) lower case 'and' | 'or'); only "
        "relations with RLS on",
        "r_SVV_RLS_RELATION [D12]: rls_conjunction_type character(3), example `t | ... | and`; netcheck-de "
        "table_security_sql.go reads is_rls_on and rls_conjunction_type filtered on datname",
        DOCUMENTED,
        ("Whether SVV_RLS_RELATION lists a relation whose RLS was turned off (with is_rls_on false) or drops it: the "
         "fake drops it, the reader ignores rows with RLS off either way.",)),
    # ---- dynamic data masking
    "masking_attachments": Shape(
        "(policy_name, schema_name, table_name, grantee, grantee_type 'role' | 'public', priority int, input_columns, "
        "output_columns as compact JSON arrays of column names `[\"email\"]`); PUBLIC as grantee 'public'",
        "r_SVV_ATTACHED_MASKING_POLICY [D14] (grantee_type role/user/public; no example); the JSON column lists seen "
        "on a real cluster (netcheck-de/terraform-provider-redshift masking_policy_attachment_sql.go and its "
        "resource decode input_columns and output_columns as `[\"email\"]`)",
        f"{SEEN} (netcheck-de/terraform-provider-redshift masking_policy_attachment_sql.go)",
        ("Whether input_columns of an attachment made without USING lists the output columns (the fake's answer: "
         "ATTACH MASKING POLICY says the policy then takes the outputs as inputs) or is empty.",
         "Whether the JSON column lists are compact (`[\"a\",\"b\"]`, as polatts is) and how a SUPER path "
         "(`person.name`) is written in them; the reader accepts any JSON spacing.",
         "The grantee cell of a PUBLIC attachment (the reader keys PUBLIC on grantee_type alone).")),
    # ---- identity providers, data lake and datashares
    "external_schemas": Shape(
        "(schemaname, databasename = the Data Catalog database of CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG)",
        "r_SVV_EXTERNAL_SCHEMAS (example `spectrum | ... | redshift`)",
        DOCUMENTED),
    "external_databases": Shape(
        "(database_name) of each database created FROM ARN, none of type 'local'",
        "r_SVV_REDSHIFT_DATABASES (database_type \"local or shared\", example `dev | 1 | local`); that a database "
        "created FROM ARN (Glue Data Catalog through IdC, seed 000) is listed here with a type other than 'local' "
        "has no source",
        ASSUMED,
        ("Whether a database created with CREATE DATABASE ... FROM ARN appears in SVV_REDSHIFT_DATABASES, and with "
         "which database_type (the reader takes every row not 'local'; the planner also trusts its ledger for "
         "them).",)),
    # ---- definitions (catalog_import.definition_queries): the stored forms, issue 21 items 1, 3, 5; they also list
    # the policies (every database's: poldb, policy_database, issue 21 item 3) and the identity providers
    # (catalog_rows.with_lists)
    "rls_policy_definitions": Shape(
        "(polname, polalias, polatts compact JSON [{\"colname\",\"type\"}], polqual as Redshift rewrote it, poldb): "
        "every database's policies",
        "r_SVV_RLS_POLICY [D10], r_SHOW_POLICIES (FakeRedshift.definition_rows, stored_predicate)",
        DOCUMENTED,
        ("That `rls_table` is the polalias of every RLS policy created without an alias ([O12], the SHOW example).",
         "That Redshift casts integer literals of an RLS predicate (CAST(1 AS INT4)) as it does in masking "
         "expressions (only string literals are shown for RLS).",
         "The parentheses Redshift adds around operators (`SHA2((a + b), ...)`): the fake keeps the text between "
         "tokens as written.")),
    "masking_policy_definitions": Shape(
        "(policy_name, input_columns compact JSON, policy_expression JSON [{\"expr\",\"type\"}], policy_database): "
        "every database's policies",
        "r_SVV_MASKING_POLICY [D13], r_SHOW_POLICIES; seen on a real cluster (netcheck-de masking_policy_sql.go "
        "decodes `expr`)",
        DOCUMENTED,
        ("That `type` is `text` for every output of a masking policy (the one example is a text expression).",
         "That a policy with several outputs has one {\"expr\", \"type\"} entry per output, in USING's order.")),
    "identity_provider_definitions": Shape(
        "(name, type lower case 'awsidc' | 'azure', namespc, params: Azure as the documented not-JSON text with the "
        "client secret's value left out, AWSIDC `{\"iam_role\":\"<arn>\"}`; enabled boolean; instanceid: AWSIDC the "
        "application ARN, Azure the tenant); superusers only",
        "r_SVV_IDENTITY_PROVIDERS [D15] (Azure example `rs5517_azure_idp | azure | ... | abc | ... | t`); `awsidc` as "
        "public scripts filter it [O9]; seen on a real cluster for AWSIDC (netcheck-de identity_provider_sql.go reads "
        "name, type, namespc, enabled, identity_provider_resource.go instanceid and params.iam_role)",
        DOCUMENTED,
        ("That AWSIDC params hold nothing besides iam_role.",
         "That an Azure provider's instanceid is the tenant of its issuer URL (the example's values agree).",
         "Whether a reader that is not a superuser gets zero rows from SVV_IDENTITY_PROVIDERS (what the fake "
         "answers) or an error; the reconciler refuses to plan identity providers as anyone else either way.")),
    # ---- the ledger (runtime/ledger.py, runtime/fence.py) and the catalog views it probes
    "ledger": Shape("(kind, object_key, fingerprint)", _OWN_TABLE, DOCUMENTED),
    "other_ledgers": Shape("(model_name, kind, object_key)", _OWN_TABLE, DOCUMENTED),
    "scripts": Shape("(script_name, checksum)", _OWN_TABLE, DOCUMENTED),
    "fence": Shape("(request_token, request_start, seq, intent_name, intent_until)", _OWN_TABLE, DOCUMENTED),
    "ledger_models:*": Shape("(model_name)", _OWN_TABLE, DOCUMENTED),
    "other_ledger_schemas": Shape(
        "(table_schema) of every other schema holding a managed_object table with a model_name column",
        "r_SVV_COLUMNS (table_schema, table_name, column_name)", DOCUMENTED),
    "ledger_table": Shape("(COUNT(*) bigint)", "r_SVV_TABLES (table_schema, table_name)", DOCUMENTED),
    "columns_*": Shape(
        "(table_schema, table_name, column_name, ordinal_position integer)", "r_SVV_COLUMNS", DOCUMENTED),
    # ---- deprovision_users (users.user_queries, user_blockers.blocker_queries; issue 21 item 6)
    "idc_users": Shape(
        "(user_name with its case kept, superuser boolean)",
        "r_SVV_USER_INFO [D4]; quoted user names keep their case (r_enable_case_sensitive_identifier [D51])",
        DOCUMENTED),
    "idc_user_privileges": Shape(
        "('schema' | 'table' | 'column' | 'database', identity_name, privilege_type, schema or database, relation, "
        "column, privilege_scope); '' where the view has no such column",
        "r_SVV_SCHEMA_PRIVILEGES [D6], r_SVV_RELATION_PRIVILEGES [D5], r_SVV_COLUMN_PRIVILEGES [D7], "
        "r_SVV_DATABASE_PRIVILEGES (privilege_scope)",
        DOCUMENTED),
    "idc_user_objects": Shape(
        "(owner usename, 'schema' | 'view' | 'table' | 'function' | 'database', schema, name); materialized views "
        "as relkind 'v', their mv_tbl__<view>__<n> storage tables left out",
        "pg_namespace, pg_class, pg_proc, pg_database with pg_user (the PostgreSQL catalog tables Redshift keeps; "
        "owners are users, issue 21 item 4); relkind 'v' for materialized views seen on a real cluster "
        "(amazon-redshift-utils v_generate_view_ddl.sql); mv_tbl__ names documented (materialized-view-auto-rewrite "
        "EXPLAIN examples)",
        f"{SEEN} (awslabs/amazon-redshift-utils v_generate_view_ddl.sql, v_find_dropuser_objs.sql)",
        ("That a materialized view's mv_tbl__ storage table has the view's owner and goes with it "
         "(ALTER ... OWNER TO of the view).",)),
    "idc_user_default_privileges": Shape(
        "(owner_name, schema_name NULL for database-wide entries, object_type RELATION | FUNCTION | PROCEDURE, "
        "privilege_type, grantee_name, grantee_type)",
        "r_SVV_DEFAULT_PRIVILEGES [D8] (grantee_name in its sample output); NULL schema_name seen on a real cluster "
        "(netcheck-de reads it so; REDSHIFT_REFERENCE.md 9.1 answer 2)",
        DOCUMENTED),
    "idc_user_iam_privileges": Shape(
        "(identity_name, iam_arn 'default-aws-iam-role' or an ARN, command_type COPY | UNLOAD | CREATE MODEL | "
        "EXFUNC)",
        "r_SVV_IAM_PRIVILEGES (its sample rows); ASSUMEROLE blocking DROP USER seen on a real cluster "
        "(amazon-redshift-utils issue 620)",
        DOCUMENTED),
    "idc_user_grants_made": Shape(
        "('table' | 'schema' | 'database', schema, name, the ACL as array_to_string(acl, ','): items "
        "`grantee=letters/grantor`, names double-quoted unless plain)",
        "PostgreSQL's aclitem text; seen on a real cluster (awslabs/amazon-redshift-utils "
        "v_generate_user_grant_revoke_ddl.sql, dbsystel resource_redshift_grant.go parse relacl so)",
        f"{SEEN} (awslabs/amazon-redshift-utils v_generate_user_grant_revoke_ddl.sql)",
        ("That the owner's own ACL item comes first and carries every letter (`o=arwdRxtD/o`), as in PostgreSQL.",
         "Whether grants a user made on functions, or default ACLs emptied of every privilege, still block DROP "
         "USER.")),
}

STATUSES = (DOCUMENTED, SEEN, ASSUMED)

# What the fake's statements do that no source settles (tests/fake_redshift.py's module docstring gives each rule
# its status): open questions too, for the same README list.
ASSUMED_STATEMENT_RULES: tuple[str, ...] = (
    "Duplicate object GRANT, REVOKE of a privilege not held, and ROW LEVEL SECURITY OFF on a table without it: "
    "no-ops (what the fake does, as PostgreSQL) or errors (a re-emitted statement would then fail its batch).",
    "DROP ROLE while a masking policy is attached to the role: refused (the fake) or the attachments go with it.",
    "DETACH of a policy that is not attached, and a duplicate ATTACH: errors (the fake).",
    "DROP ROLE while a default privilege (ALTER DEFAULT PRIVILEGES) names the role: refused (the fake, "
    "REDSHIFT_REFERENCE.md 9 question 11) or the entry goes with it.",
    "ALTER DEFAULT PRIVILEGES ... REVOKE DROP ON TABLES: accepted (the fake; r_ALTER_DEFAULT_PRIVILEGES' REVOKE list "
    "leaves DROP out, though its GRANT list has it and it says REVOKE takes what r_REVOKE takes, which lists DROP).",
    "GRANT or ATTACH to a role that does not exist, ALTER or ATTACH of a missing policy, CREATE of an existing "
    "identity provider, DROP ROLE of a system role: errors (the fake).",
    "The fence guard's failure, `CAST('superseded' AS INTEGER)`: fails its statement (the fake) with which wording.",
)


def valid_status(status: str) -> bool:
    """documented, assumed, or `seen on a real cluster (<source>)` with its source named."""
    return status in (DOCUMENTED, ASSUMED) or (status.startswith(f"{SEEN} (") and status.endswith(")")
                                                 and len(status) > len(SEEN) + 3)


def open_questions() -> list[tuple[str, str]]:
    """(query name, question) for every assumed shape or detail: the open questions of the README's Redshift
    notes."""
    return [(name, question) for name, shape in ROW_SHAPES.items() for question in shape.open]


if __name__ == "__main__":  # the list for the README: `python -m tests.fake_shapes`
    for query, question in open_questions():
        print(f"- `{query}` ({ROW_SHAPES[query].status}): {question}")
    for rule in ASSUMED_STATEMENT_RULES:
        print(f"- statement rule (assumed): {rule}")
