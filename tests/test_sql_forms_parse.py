"""Every statement form the planner and the ledger emit parses with sqlfluff's `redshift` dialect.

One instance of every access object type (and every privilege name, conjunction and policy shape),
with awkward names: spaces, `"`, `'`, `\\`, `:` and non-ASCII letters. Each rendered statement must
either parse with no problem at all (no lexing/parsing violation, no `unparsable` segment anywhere in
the tree, exactly one statement, the tree reproducing the text), or match exactly one entry of
`SQLFLUFF_GAPS`: forms Redshift accepts but sqlfluff's grammar lacks, each pinned down by a full-match
regex. Allowlisted statements must really fail sqlfluff, and every entry must be used, so the list
shrinks when sqlfluff learns a form and never hides a form we no longer emit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass

import pytest
from sqlfluff.core import Linter

from redshift_idc.access.expressions import check_expression
from redshift_idc.runtime import fence
from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    DATABASE_PRIVILEGES,
    DEFAULT_PRIVILEGES,
    OBJECT_TYPES,
    PUBLIC_GRANTEE,
    SCHEMA_PRIVILEGES,
    SYSTEM_PRIVILEGES,
    TABLE_PRIVILEGES,
    AccessObject,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    LedgerEntry,
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
from redshift_idc.runtime.planning.object_sql import (
    IDENTITY_PROVIDER_CLAUSES,
    alter_identity_provider_sql,
    alter_using_sql,
    create_identity_provider_sql,
    create_sql,
    drop_identity_provider_sql,
    remove_sql,
)
from redshift_idc.runtime.users import TRANSFERABLE, OwnedObject, UserGrant, drop_user_sql, user_queries

# ------------------------------------------------------------------------------------------ objects

ROLE = 'AWSIDC:amer sales "x"'  # space, double quote, colon
USER = "AWSIDC:o'neil \"ventes\" été@example.com"  # an IdC user: quote, double quote, non-ASCII, @
PARENT_ROLE = "AWSIDC:corp\\o'neil — lecture"  # backslash, single quote, non-ASCII dash
SCHEMA = "ventes_été"
DATABASE = 'partage "ventes" été'
TABLE = 'commandes "2024" été'
COLUMN = "montant total"
SSN = "numéro sécu"
COUNTRY = "pays"
EMAIL = "e-mail"
RLS_POLICY = 'région "EMEA" only'
RLS_OPEN_POLICY = "ouvert"
MASKING_POLICY = 'masque "ssn" conditionnel'
MASKING_SIMPLE_POLICY = "masque haché"

RLS_COLUMNS = (("région", "VARCHAR(50)"), (COLUMN, "DECIMAL(12, 2)"))
RLS_USING = "\"région\" = 'EMEA' AND (\"montant total\" < 1000 OR current_user = 'AWSIDC:o''neil')"
MASKING_COLUMNS = ((SSN, "VARCHAR(11)"), (COUNTRY, "CHAR(2)"))
MASKING_USING = ("CASE WHEN \"pays\" = 'FR' THEN 'XXX-XX-' || SUBSTRING(\"numéro sécu\", 8, 4) "
                 "ELSE CAST(NULL AS VARCHAR(11)) END")
MASKING_SIMPLE_COLUMNS = (("valeur", "VARCHAR(256)"),)
MASKING_SIMPLE_USING = "SHA2(valeur, 256)"
IDP_AWSIDC = IdentityProvider('IdC "corp" été', "awsidc", "AWSIDC", "",
                              "arn:aws:sso::111111111111:application/ssoins-72230123456789ab/apl-0123456789abcdef",
                              "arn:aws:iam::111111111111:role/redshift-idc", True)
IDP_AZURE = IdentityProvider(
    "azure o'neil", "azure", "aad",
    json.dumps({"audience": ["api://1234"], "client_id": "o'neil\\app", "issuer": "https://login.microsoftonline.com/t"}),
    auto_create_roles=None, enabled=False,
    secrets=(("client_secret", "arn:aws:secretsmanager:us-east-1:111111111111:secret:azure-AbCdEf", "secret"),))
IDP_SECRET = "s3cr'et\\\"value"  # quote, backslash, double quote: escaped for JSON, then for SQL


def _objects() -> list[tuple[str, AccessObject]]:
    """(label, object): every type, every privilege name, both conjunctions, both policy shapes."""
    for expression, columns in ((RLS_USING, RLS_COLUMNS), (MASKING_USING, MASKING_COLUMNS),
                                (MASKING_SIMPLE_USING, MASKING_SIMPLE_COLUMNS)):
        check_expression(expression, [name for name, _ in columns])  # realistic: the model would accept it
    objects: list[tuple[str, AccessObject]] = [
        ("role", Role(ROLE)),
        ("role_grant", RoleGrant(PARENT_ROLE, ROLE)),
        *((f"schema_privilege:{p}", SchemaPrivilege(SCHEMA, p, ROLE)) for p in SCHEMA_PRIVILEGES),
        *((f"scoped_table_privilege:{p}", ScopedTablePrivilege(SCHEMA, p, ROLE)) for p in TABLE_PRIVILEGES),
        *((f"table_privilege:{p}", TablePrivilege(SCHEMA, TABLE, p, ROLE)) for p in TABLE_PRIVILEGES),
        *((f"column_privilege:{p}", ColumnPrivilege(SCHEMA, TABLE, COLUMN, p, ROLE)) for p in COLUMN_PRIVILEGES),
        *((f"system_privilege:{p}", SystemPrivilege(p, ROLE)) for p in SYSTEM_PRIVILEGES),
        ("rls_policy:with", RlsPolicy(RLS_POLICY, RLS_COLUMNS, RLS_USING)),
        ("rls_policy:without_with", RlsPolicy(RLS_OPEN_POLICY, (), "true")),
        ("rls_attachment", RlsAttachment(RLS_POLICY, SCHEMA, TABLE, ROLE)),
        ("rls_lookup_grant", RlsLookupGrant(SCHEMA, TABLE, RLS_POLICY)),
        *((f"database_privilege:{p}", DatabasePrivilege(DATABASE, p, ROLE)) for p in DATABASE_PRIVILEGES),
        ("database_privilege:public", DatabasePrivilege(DATABASE, "USAGE", PUBLIC_GRANTEE)),
        ("external_schema", ExternalSchema(SCHEMA, "lf base d'été", "111111111111")),
        ("external_schema:no_catalog_id", ExternalSchema(SCHEMA, "lf_db")),
        ("external_database", ExternalDatabase(DATABASE, "arn:aws:glue:us-east-1:111111111111:database/d'été")),
        *((f"rls_table:{c}", RlsTable(SCHEMA, TABLE, c)) for c in ("AND", "or")),
        ("masking_policy:conditional", MaskingPolicy(MASKING_POLICY, MASKING_COLUMNS, MASKING_USING)),
        ("masking_policy:simple", MaskingPolicy(MASKING_SIMPLE_POLICY, MASKING_SIMPLE_COLUMNS, MASKING_SIMPLE_USING)),
        ("masking_attachment:inputs", MaskingAttachment(MASKING_POLICY, SCHEMA, TABLE, (SSN,), ROLE,
                                                        (SSN, COUNTRY), 10)),
        ("masking_attachment:default_inputs", MaskingAttachment(MASKING_SIMPLE_POLICY, SCHEMA, TABLE, (EMAIL,),
                                                                PARENT_ROLE)),
        ("identity_provider:awsidc", IDP_AWSIDC),
        ("identity_provider:awsidc_some_groups", dataclasses.replace(  # r_CREATE_IDENTITY_PROVIDER's filter
            IDP_AWSIDC, name="IdC some groups", auto_create_groups=("EXCLUDE", "contractors%"))),
        ("identity_provider:azure", IDP_AZURE),
        # PUBLIC (every user) where Redshift takes it: object grants and policy attachments [D24][D29][D40]
        ("schema_privilege:public", SchemaPrivilege(SCHEMA, "USAGE", PUBLIC_GRANTEE)),
        ("table_privilege:public", TablePrivilege(SCHEMA, TABLE, "SELECT", PUBLIC_GRANTEE)),
        ("column_privilege:public", ColumnPrivilege(SCHEMA, TABLE, COLUMN, "SELECT", PUBLIC_GRANTEE)),
        ("rls_attachment:public", RlsAttachment(RLS_POLICY, SCHEMA, TABLE, PUBLIC_GRANTEE)),
        ("masking_attachment:public", MaskingAttachment(MASKING_SIMPLE_POLICY, SCHEMA, TABLE, (EMAIL,),
                                                        PUBLIC_GRANTEE, (), 0)),
        # ALTER DEFAULT PRIVILEGES FOR USER (an IdC user's awkward name) [IN SCHEMA], each privilege of each object
        # type, to a role and to PUBLIC (r_ALTER_DEFAULT_PRIVILEGES)
        *((f"default_privilege:{objects}:{p}", DefaultPrivilege(USER, SCHEMA, objects, p, ROLE))
          for objects, privileges in DEFAULT_PRIVILEGES.items() for p in privileges),
        ("default_privilege:database_wide", DefaultPrivilege(USER, "", "TABLES", "SELECT", ROLE)),
        ("default_privilege:public", DefaultPrivilege(USER, SCHEMA, "TABLES", "SELECT", PUBLIC_GRANTEE)),
    ]
    return objects


OBJECTS = _objects()

# ------------------------------------------------------------------------------------------- forms

MODEL = "équipe d'O'Brien \\ prod"  # single quotes and a backslash in a literal
LEDGERS = {"default": LedgerTables(), "awkward": LedgerTables('ledger "idc" été')}
TOKEN = "rsidc-0123456789abcdef0123"
ENTRIES = [LedgerEntry(item.KIND, item.key(), item.fingerprint()) for _, item in OBJECTS]


@dataclass(frozen=True)
class Form:
    label: str
    sql: str


def _forms() -> list[Form]:
    forms: list[Form] = []
    for label, item in OBJECTS:
        forms += [Form(f"create:{label}", create_sql(item)), Form(f"remove:{label}", remove_sql(item))]
        if isinstance(item, RlsPolicy | MaskingPolicy):
            forms.append(Form(f"alter_using:{label}", alter_using_sql(item)))
        if isinstance(item, IdentityProvider):
            resolved = {(arn, key): IDP_SECRET for _, arn, key in item.secrets}
            forms += [
                Form(f"create_resolved:{label}", create_identity_provider_sql(item, resolved)),
                Form(f"drop_cascade:{label}", drop_identity_provider_sql(item, cascade=True)),
                Form(f"alter_all:{label}", alter_identity_provider_sql(item, IDENTITY_PROVIDER_CLAUSES)),
                Form(f"alter_all_resolved:{label}", alter_identity_provider_sql(item, IDENTITY_PROVIDER_CLAUSES,
                                                                                resolved)),
                *(Form(f"alter_{clause}:{label}", alter_identity_provider_sql(item, [clause]))
                  for clause in IDENTITY_PROVIDER_CLAUSES),
            ]
    # deprovision_users: a departed user's direct grants revoked, what it owns transferred, the user dropped, and
    # the three reads (SELECTs) that find them, for a namespace with LIKE wildcards in it.
    for kind, target, privileges in (("schema", (SCHEMA,), SCHEMA_PRIVILEGES), ("scoped", (SCHEMA,), TABLE_PRIVILEGES),
                                     ("table", (SCHEMA, TABLE), TABLE_PRIVILEGES),
                                     ("column", (SCHEMA, TABLE, COLUMN), COLUMN_PRIVILEGES),
                                     ("database", (DATABASE,), (*DATABASE_PRIVILEGES, "TEMPORARY"))):
        forms += [Form(f"user:revoke:{kind}:{p}", UserGrant(kind, USER, p, target).revoke_sql()) for p in privileges]
    forms += [Form(f"user:transfer:{kind}", OwnedObject(USER, kind, SCHEMA, TABLE).transfer_sql(owner))
              for kind in sorted(TRANSFERABLE) for owner in (USER,)]  # owners are users (brainly#142)
    forms.append(Form("user:drop", drop_user_sql(USER)))
    forms += [Form(f"user:read:{name}", sql) for name, sql in user_queries("AWS_IDC%ns")]
    for name, tables in LEDGERS.items():
        forms += [Form(f"ledger:{name}:bootstrap_sql[{i}]", sql) for i, sql in enumerate(tables.bootstrap_sql())]
        forms += [
            Form(f"ledger:{name}:select_objects_sql", tables.select_objects_sql(MODEL)),
            Form(f"ledger:{name}:select_scripts_sql", tables.select_scripts_sql(MODEL)),
            Form(f"ledger:{name}:delete_sql", tables.delete_sql(MODEL, ENTRIES)),
            Form(f"ledger:{name}:insert_sql", tables.insert_sql(MODEL, ENTRIES)),
            Form(f"ledger:{name}:record_script_sql",
                 tables.record_script_sql(MODEL, "001_grants d'été\\v2.sql", hashlib.sha256(b"x").hexdigest())),
            Form(f"ledger:{name}:fence.select_sql", fence.select_sql(tables, MODEL)),
            Form(f"ledger:{name}:fence.guard_sql", fence.guard_sql(tables, MODEL, TOKEN, 17)),
            Form(f"ledger:{name}:fence.guard_sql:absent", fence.guard_sql(tables, MODEL, None, None)),
            Form(f"ledger:{name}:fence.advance_sql", fence.advance_sql(tables, MODEL, 18)),
            Form(f"ledger:{name}:fence.intent_sql",
                 fence.intent_sql(tables, MODEL, 18, f"rsidc-0123456789abcdef:{TOKEN}:00019:exec", 1767225660000)),
            Form(f"ledger:{name}:fence.claim_sql", fence.claim_sql(tables, MODEL, TOKEN, 1767225600000,
                                                                   row_exists=True)),
            Form(f"ledger:{name}:fence.claim_sql:insert", fence.claim_sql(tables, MODEL, TOKEN, 1767225600000,
                                                                          row_exists=False)),
            Form(f"ledger:{name}:select_other_objects_sql", tables.select_other_objects_sql(MODEL)),
            Form(f"ledger:{name}:other_schemas_sql", tables.other_schemas_sql()),
            Form(f"ledger:{name}:select_models_sql", tables.select_models_sql()),
        ]
    return forms


FORMS = _forms()

# --------------------------------------------------------------------------------------- allowlist

IDENT = r'"(?:[^"]|"")+"'  # a delimited identifier, `"` doubled inside
QUALIFIED = rf"{IDENT}\.{IDENT}"
LIT = r"'(?:[^'\\]|''|\\\\)*'"  # a string literal, `'` and `\` doubled inside
TABLE_PRIVILEGE = "(?:" + "|".join(re.escape(p) for p in TABLE_PRIVILEGES) + ")"
SYSTEM_PRIVILEGE = "(?:" + "|".join(re.escape(p) for p in SYSTEM_PRIVILEGES) + ")"

# Forms Redshift documents but sqlfluff 4.5's `redshift` dialect cannot parse. Matched with
# re.fullmatch (anchored at both ends). The `predicate` group is the one free-text part; it must
# parse as an expression on its own (see `test_form_parses_or_is_allowlisted`).
SQLFLUFF_GAPS: dict[str, re.Pattern[str]] = {
    # r_DROP_ROLE: `DROP ROLE role_name [ FORCE | RESTRICT ]`; sqlfluff's DROP ROLE has no FORCE/RESTRICT.
    "drop_role_force": re.compile(rf"DROP ROLE {IDENT} FORCE"),
    # Scoped permissions: sqlfluff's GRANT knows `FOR TABLES IN SCHEMA`, its REVOKE does not.
    "revoke_for_tables_in_schema": re.compile(
        rf"REVOKE {TABLE_PRIVILEGE} FOR TABLES IN SCHEMA {IDENT} FROM (?:ROLE )?{IDENT}"),
    # r_GRANT/r_REVOKE role-only system permissions (IGNORE RLS, EXPLAIN RLS, EXPLAIN MASKING): not in sqlfluff.
    "grant_system_privilege": re.compile(rf"GRANT {SYSTEM_PRIVILEGE} TO ROLE {IDENT}"),
    "revoke_system_privilege": re.compile(rf"REVOKE {SYSTEM_PRIVILEGE} FROM ROLE {IDENT}"),
    # r_ALTER_RLS_POLICY: sqlfluff has CREATE/ATTACH/DETACH/DROP RLS POLICY, and ALTER MASKING POLICY,
    # but no ALTER RLS POLICY.
    "alter_rls_policy_using": re.compile(rf"ALTER RLS POLICY {IDENT} USING \((?P<predicate>(?s:.+))\)"),
    # r_GRANT/r_REVOKE `SELECT ON [ TABLE ] t TO { RLS | MASKING } POLICY p` [D24][D25]: sqlfluff's GRANT
    # takes roles, users and groups as grantees, not policies.
    "grant_lookup_to_rls_policy": re.compile(rf"GRANT SELECT ON TABLE {QUALIFIED} TO RLS POLICY {IDENT}"),
    "revoke_lookup_from_rls_policy": re.compile(
        rf"REVOKE SELECT ON TABLE {QUALIFIED} FROM RLS POLICY {IDENT}"),  # noqa: S608 (a pattern, not a query)
    # r_CREATE_EXTERNAL_SCHEMA: `FROM DATA CATALOG DATABASE '...' [ ... ] [ CATALOG_ID '<account>' ]`;
    # sqlfluff's grammar stops before CATALOG_ID (seed 000 gives it, with no IAM_ROLE).
    "create_external_schema_catalog_id": re.compile(
        rf"CREATE EXTERNAL SCHEMA {IDENT} FROM DATA CATALOG DATABASE {LIT} CATALOG_ID '\d{{12}}'"),
    # r_ALTER_TABLE: `ROW LEVEL SECURITY { ON | OFF } [ CONJUNCTION TYPE { AND | OR } ]` is not in
    # sqlfluff's ALTER TABLE actions.
    "rls_on": re.compile(rf"ALTER TABLE {QUALIFIED} ROW LEVEL SECURITY ON CONJUNCTION TYPE (?:AND|OR)"),
    "rls_off": re.compile(rf"ALTER TABLE {QUALIFIED} ROW LEVEL SECURITY OFF"),
    # r_CREATE_IDENTITY_PROVIDER, r_ALTER_IDENTITY_PROVIDER, r_DROP_IDENTITY_PROVIDER: not in sqlfluff at all.
    "create_identity_provider": re.compile(
        rf"CREATE IDENTITY PROVIDER {IDENT} TYPE (?:AWSIDC|AZURE) NAMESPACE {LIT}(?: PARAMETERS {LIT})?"
        rf"(?: APPLICATION_ARN {LIT})?(?: IAM_ROLE {LIT})?"
        rf"(?: AUTO_CREATE_ROLES (?:TRUE(?: (?:INCLUDE|EXCLUDE) GROUPS LIKE {LIT})?|FALSE))?"),
    "alter_identity_provider": re.compile(
        rf"ALTER IDENTITY PROVIDER {IDENT}(?=.)(?: PARAMETERS {LIT})?(?: NAMESPACE {LIT})?(?: IAM_ROLE {LIT})?"
        rf"(?: AUTO_CREATE_ROLES (?:TRUE(?: (?:INCLUDE|EXCLUDE) GROUPS LIKE {LIT})?|FALSE))?(?: (?:ENABLE|DISABLE))?"),
    "drop_identity_provider": re.compile(rf"DROP IDENTITY PROVIDER {IDENT}(?: CASCADE)?"),
    # r_ALTER_DEFAULT_PRIVILEGES: `TO | FROM ROLE role_name`; sqlfluff's grantees there are users, groups and PUBLIC.
    "alter_default_privileges_role": re.compile(
        rf"ALTER DEFAULT PRIVILEGES FOR USER {IDENT}(?: IN SCHEMA {IDENT})? (?:GRANT (?!DROP )[A-Z]+ ON "
        rf"(?:TABLES|FUNCTIONS|PROCEDURES) TO|REVOKE (?!DROP )[A-Z]+ ON (?:TABLES|FUNCTIONS|PROCEDURES) FROM) "
        rf"ROLE {IDENT}"),
    # r_ALTER_DEFAULT_PRIVILEGES: `GRANT { SELECT | ... | DROP | ... } ON TABLES`; sqlfluff's list has no DROP.
    "alter_default_privileges_drop": re.compile(
        rf"ALTER DEFAULT PRIVILEGES FOR USER {IDENT}(?: IN SCHEMA {IDENT})? (?:GRANT DROP ON TABLES TO|REVOKE DROP "
        rf"ON TABLES FROM) (?:ROLE {IDENT}|PUBLIC)"),
}


def gaps_matching(sql: str) -> list[str]:
    return [name for name, pattern in SQLFLUFF_GAPS.items() if pattern.fullmatch(sql)]


ALLOWLISTED = [form for form in FORMS if gaps_matching(form.sql)]

# ----------------------------------------------------------------------------------------- sqlfluff


class Sqlfluff:
    """One redshift-dialect linter; each distinct statement is parsed once per module."""

    def __init__(self) -> None:
        self._linter = Linter(dialect="redshift")
        self._problems: dict[str, tuple[str, ...]] = {}

    def problems(self, sql: str) -> tuple[str, ...]:
        """Everything that keeps `sql` from being one cleanly parsed statement (empty when it is)."""
        if sql not in self._problems:
            self._problems[sql] = self._check(sql)
        return self._problems[sql]

    def _check(self, sql: str) -> tuple[str, ...]:
        parsed = self._linter.parse_string(sql)
        problems = [f"{type(v).__name__}: {v.desc()}" for v in parsed.violations]
        tree = parsed.tree
        if tree is None:
            return (*problems, "no parse tree")
        problems += [f"unparsable segment: {seg.raw!r}" for seg in tree.recursive_crawl_all()
                     if seg.is_type("unparsable")]
        code = [seg for seg in tree.segments if seg.is_code]
        if len(code) != 1 or not code[0].is_type("statement"):
            problems.append(f"expected one statement, got {[seg.get_type() for seg in code]}")
        if tree.raw != sql:
            problems.append("the parse tree does not reproduce the statement text")
        return tuple(problems)


@pytest.fixture(scope="module")
def sqlfluff() -> Sqlfluff:
    return Sqlfluff()


# -------------------------------------------------------------------------------------------- tests


def test_forms_cover_every_object_type_privilege_and_ledger_method() -> None:
    assert len({f.label for f in FORMS}) == len(FORMS), "form labels must be unique"
    assert {type(item) for _, item in OBJECTS} == set(OBJECT_TYPES)
    privileges = {(type(item), getattr(item, "privilege", None)) for _, item in OBJECTS}
    for cls, names in ((SchemaPrivilege, SCHEMA_PRIVILEGES), (ScopedTablePrivilege, TABLE_PRIVILEGES),
                       (TablePrivilege, TABLE_PRIVILEGES), (ColumnPrivilege, COLUMN_PRIVILEGES),
                       (SystemPrivilege, SYSTEM_PRIVILEGES)):
        assert {(cls, name) for name in names} <= privileges
    labels = {f.label for f in FORMS}
    for method in ("select_objects_sql", "select_scripts_sql", "delete_sql", "insert_sql", "record_script_sql",
                   "fence.select_sql", "fence.guard_sql", "fence.advance_sql", "fence.intent_sql", "fence.claim_sql",
                   "select_other_objects_sql", "other_schemas_sql", "select_models_sql"):
        assert {f"ledger:{name}:{method}" for name in LEDGERS} <= labels
    policies = {label for label, item in OBJECTS if isinstance(item, RlsPolicy | MaskingPolicy)}
    assert {f.label.removeprefix("alter_using:") for f in FORMS if f.label.startswith("alter_using:")} == policies


def test_the_check_is_strict(sqlfluff: Sqlfluff) -> None:
    """The checker itself: clean SQL passes; trailing junk, two statements and garbage do not."""
    assert sqlfluff.problems('CREATE ROLE "a"') == ()
    for bad in ('GRANT SELECT ON TABLE "s"."t" TO ROLE "r" junk', 'CREATE ROLE "a"; CREATE ROLE "b"',
                'CREATE ROLE "a', "GRANT ROLE TO", 'CREATE ROLE "a" ?'):
        assert sqlfluff.problems(bad), bad


@pytest.mark.parametrize("form", FORMS, ids=[f.label for f in FORMS])
def test_form_parses_or_is_allowlisted(form: Form, sqlfluff: Sqlfluff) -> None:
    gaps = gaps_matching(form.sql)
    assert len(gaps) <= 1, f"{form.sql}\nmatches several allowlist entries: {gaps}"
    if not gaps:
        problems = sqlfluff.problems(form.sql)
        assert not problems, f"{form.sql}\nsqlfluff (redshift): " + "\n".join(problems)
        return
    match = SQLFLUFF_GAPS[gaps[0]].fullmatch(form.sql)
    assert match is not None
    predicate = match.groupdict().get("predicate")
    if predicate is not None:
        probe = f"SELECT 1 WHERE ({predicate})"
        assert sqlfluff.problems(probe) == (), f"{form.sql}\nthe USING predicate does not parse: {probe}"


@pytest.mark.parametrize("form", ALLOWLISTED, ids=[f.label for f in ALLOWLISTED])
def test_allowlisted_form_really_fails_sqlfluff(form: Form, sqlfluff: Sqlfluff) -> None:
    assert sqlfluff.problems(form.sql), (
        f"sqlfluff now parses {form.sql!r}: remove {gaps_matching(form.sql)} from SQLFLUFF_GAPS")


@pytest.mark.parametrize("name", sorted(SQLFLUFF_GAPS))
def test_every_allowlist_entry_is_used(name: str) -> None:
    assert any(SQLFLUFF_GAPS[name].fullmatch(f.sql) for f in FORMS), f"no rendered statement needs {name!r}"
