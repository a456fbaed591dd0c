"""What else keeps DROP USER from succeeding (deprovision_users), read before any DDL and refused by name.

DROP USER fails while the user owns an object or "has any privileges on a database, table, column, or group"
[r_DROP_USER]; users.py reads the objects and the direct grants. Real clusters showed three more blockers,
each read here by one SELECT appended to the read batch (`blocker_queries`):

- default privileges (ALTER DEFAULT PRIVILEGES): the user owns them (`owner of default privileges on new
  relations belonging to user`, amazon-redshift-utils issue 492) or is their grantee (dbsystel's
  resource_redshift_user.go revokes `ALTER DEFAULT PRIVILEGES ... FROM <user>` before its DROP USER). Read from
  SVV_DEFAULT_PRIVILEGES (r_SVV_DEFAULT_PRIVILEGES: one row per privilege, owner_type "Possible value is user";
  database-wide rows have no schema_name, as netcheck reads them).
- ASSUMEROLE privileges: "user ... cannot be dropped because the user has a privilege on some object"
  (amazon-redshift-utils issue 620). Read from SVV_IAM_PRIVILEGES (r_SVV_IAM_PRIVILEGES).
- grants the user made to others (the ACL's grantor): amazon-redshift-utils' v_generate_user_grant_revoke_ddl.sql
  has them revoked (as their grantor) before a user is dropped. Read from the ACLs of tables and views, schemas
  and databases (`array_to_string(relacl, ',')`, as that view and dbsystel's grant code read them), items
  `grantee=privileges/grantor`, names double-quoted when they hold characters such as `:`.

None is cleared automatically: each changes what someone else may do (a default privilege shapes future
tables, a grant the user made gives another user access), so the deploy is refused, before any DDL, naming
each blocker and the statement that clears it. A grant the user made on an object it owns is left out: the
object is either refused as owned or transferred, and ALTER ... OWNER TO hands the owner's grants to the new
owner in PostgreSQL (assumed for Redshift). Whether an emptied default ACL (every privilege revoked; no row in
SVV_DEFAULT_PRIVILEGES) still blocks, and whether grants made on functions do, is unconfirmed: Redshift's own
error then fails the batch, naming the statement.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.access_state import DEFAULT_PRIVILEGE_OBJECTS, DefaultPrivilege, catalog_default_privilege
from redshift_idc.runtime.sql_text import SqlTextError, quote_ident, quote_literal

Row = tuple[Any, ...]
USER_DEFAULT_PRIVILEGES_QUERY = "idc_user_default_privileges"
USER_IAM_PRIVILEGES_QUERY = "idc_user_iam_privileges"
USER_GRANTS_MADE_QUERY = "idc_user_grants_made"
BLOCKER_QUERY_NAMES = (USER_DEFAULT_PRIVILEGES_QUERY, USER_IAM_PRIVILEGES_QUERY, USER_GRANTS_MADE_QUERY)
_DEFAULT_PRIVILEGES = frozenset({"INSERT", "SELECT", "UPDATE", "DELETE", "RULE", "REFERENCES", "TRIGGER", "DROP",
                                 "EXECUTE"})
# SVV_IAM_PRIVILEGES' command_type (its sample rows say EXFUNC) as REVOKE ASSUMEROLE ... FOR spells it (r_REVOKE).
_IAM_COMMANDS = {"COPY": "COPY", "UNLOAD": "UNLOAD", "CREATE MODEL": "CREATE MODEL", "EXFUNC": "EXTERNAL FUNCTION",
                 "EXTERNAL FUNCTION": "EXTERNAL FUNCTION"}
# ACL privilege letters (PostgreSQL's aclitem; amazon-redshift-utils and dbsystel decode the same letters).
_ACL_LETTERS = {"r": "SELECT", "w": "UPDATE", "a": "INSERT", "d": "DELETE", "D": "DROP", "x": "REFERENCES",
                "R": "RULE", "t": "TRIGGER", "U": "USAGE", "C": "CREATE", "T": "TEMP", "X": "EXECUTE", "A": "ALTER",
                "P": "TRUNCATE"}
MV_BACKING_PREFIX = "mv_tbl__"  # a materialized view's storage table, mv_tbl__<view>__<n> (never transferred)


def like_escaped(namespace: str) -> str:
    """The namespace with LIKE's `%`, `_` and `\\` escaped with its default escape character, a backslash
    (itself doubled inside the literal [D52])."""
    return namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _grantor_in(acl: str, namespace: str) -> str:
    """SQL: `acl` (an ACL as text) has an item granted by one of the namespace's users, quoted or not."""
    escaped = like_escaped(namespace)
    plain, quoted = "%/" + escaped + ":%", '%/"' + escaped + ":%"
    return f"({acl} ILIKE {quote_literal(plain)} OR {acl} ILIKE {quote_literal(quoted)})"


def blocker_queries(namespace: str, user_like: str) -> list[tuple[str, str]]:
    """(name, SQL): SELECTs only. `user_like` is the `'<namespace>:%'` literal users.py matches users with."""
    table_acl, schema_acl, database_acl = (f"array_to_string({column}, ',')"
                                           for column in ("c.relacl", "n.nspacl", "d.datacl"))
    grants_made = " UNION ALL ".join((
        f"SELECT 'table', n.nspname, c.relname, {table_acl} FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v') AND c.relname NOT LIKE 'mv\\\\_tbl\\\\_\\\\_%' "
        f"AND {_grantor_in(table_acl, namespace)}",
        f"SELECT 'schema', n.nspname, '', {schema_acl} FROM pg_namespace n WHERE {_grantor_in(schema_acl, namespace)}",
        f"SELECT 'database', '', d.datname, {database_acl} FROM pg_database d "
        f"WHERE {_grantor_in(database_acl, namespace)}",
    ))
    return [
        (USER_DEFAULT_PRIVILEGES_QUERY,
         "SELECT owner_name, schema_name, object_type, privilege_type, grantee_name, grantee_type "
         f"FROM svv_default_privileges WHERE owner_name ILIKE {user_like} "
         f"OR (grantee_type = 'user' AND grantee_name ILIKE {user_like})"),
        (USER_IAM_PRIVILEGES_QUERY, "SELECT identity_name, iam_arn, command_type FROM svv_iam_privileges "
                                    f"WHERE identity_type = 'user' AND identity_name ILIKE {user_like}"),
        (USER_GRANTS_MADE_QUERY, grants_made),
    ]


@dataclass(frozen=True)
class Blocker:
    """Something that keeps `user` from being dropped, and the statement(s) that clear it (for the message only:
    never run). `on`: ("relation" | "schema" | "database", schema, name) of the object a grant the user made is
    on, to leave out grants on objects the user owns. `default`: a default privilege the user owns, to a role or
    PUBLIC, as the state holds it: one the deploy's own plan revokes is no blocker (`user_defaults.py`)."""

    user: str
    what: str
    clear: str
    on: tuple[str, str, str] = ("", "", "")
    default: DefaultPrivilege | None = None

    def describe(self) -> str:
        return f"{self.what} (clear it: {self.clear})"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _ident(name: str) -> str:
    """A name from the catalog, quoted for the advice; one Redshift could not hold is shown as it is."""
    try:
        return quote_ident(name)
    except SqlTextError:
        return repr(name)


def _grantee_sql(name: str, kind: str) -> str:
    kind = kind.lower()
    if kind == "public" or not name:
        return "PUBLIC"
    return {"role": "ROLE ", "group": "GROUP "}.get(kind, "") + _ident(name)


def _mine(name: str, namespace: str) -> bool:
    prefix = f"{namespace}:".casefold()
    return len(name) > len(prefix) and name[:len(prefix)].casefold() == prefix


def _default_privileges(rows: Sequence[Row], namespace: str) -> Iterator[Blocker]:
    for owner, schema, object_type, privilege, grantee, grantee_type in rows:
        owner, schema, grantee, kind = _text(owner), _text(schema), _text(grantee), _text(grantee_type).lower()
        objects = DEFAULT_PRIVILEGE_OBJECTS.get(_text(object_type).upper(), "TABLES")
        read = _text(privilege).upper()
        privilege = read if read in _DEFAULT_PRIVILEGES else "ALL"
        where = f" IN SCHEMA {_ident(schema)}" if schema else ""
        clear = (f"ALTER DEFAULT PRIVILEGES FOR USER {_ident(owner)}{where} REVOKE {privilege} ON {objects} "
                 f"FROM {_grantee_sql(grantee, kind)}")
        scope = f"in schema {schema}" if schema else "in the database"
        if _mine(owner, namespace):
            yield Blocker(owner, f"owns default privileges: {privilege} on new {objects.lower()} {scope} for "
                                 f"{grantee or 'PUBLIC'}", clear,
                          default=catalog_default_privilege(owner, schema, _text(object_type), read, grantee, kind))
        if kind == "user" and _mine(grantee, namespace) and grantee != owner:
            yield Blocker(grantee, f"holds default privileges: {privilege} on new {objects.lower()} {scope} "
                                   f"created by {owner}", clear)


def _iam_privileges(rows: Sequence[Row]) -> Iterator[Blocker]:
    for user, arn, command in rows:
        user, arn, command = _text(user), _text(arn), _text(command).upper()
        role = "default" if arn == "default-aws-iam-role" else quote_literal(arn)
        clear = f"REVOKE ASSUMEROLE ON {role} FROM {_ident(user)} FOR {_IAM_COMMANDS.get(command, 'ALL')}"
        yield Blocker(user, f"holds ASSUMEROLE on {arn} for {command or 'ALL'}", clear)


def _split(text: str, separator: str) -> list[str]:
    """`text` split on `separator` outside double quotes (a doubled quote toggles twice: still inside)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def acl_items(acl: str) -> list[tuple[str, str, str, str]]:
    """(grantee kind: user, group, role or public; grantee; privilege letters; grantor) of each ACL item."""
    items = []
    acl = acl.strip()
    acl = acl[1:-1] if acl.startswith("{") and acl.endswith("}") else acl  # an aclitem[] as an array literal
    for item in _split(acl, ","):
        left, _, right = _partition(item, "=")
        letters, _, grantor = _partition(right, "/")
        left = left.strip()
        kind = "public" if not left else "user"
        for word in ("group ", "role "):  # `group name` is PostgreSQL's form; a role's is assumed alike
            if left.lower().startswith(word):
                kind, left = word.strip(), left[len(word):]
        items.append((kind, _unquote(left), letters.strip(), _unquote(grantor)))
    return items


def _partition(text: str, separator: str) -> tuple[str, str, str]:
    parts = _split(text, separator)
    return (parts[0], separator, separator.join(parts[1:])) if len(parts) > 1 else (text, "", "")


def _grants_made(rows: Sequence[Row], namespace: str) -> Iterator[Blocker]:
    for kind, schema, name, acl in rows:
        kind, schema, name = _text(kind), _text(schema), _text(name)
        target = {"table": f"TABLE {_ident(schema)}.{_ident(name)}", "schema": f"SCHEMA {_ident(schema)}",
                  "database": f"DATABASE {_ident(name)}"}.get(kind, "")
        described = {"table": f"table {schema}.{name}", "schema": f"schema {schema}"}.get(kind, f"database {name}")
        on = ("relation" if kind == "table" else kind, schema, "" if kind == "schema" else name)
        for grantee_kind, grantee, letters, grantor in acl_items(_text(acl)):
            if not _mine(grantor, namespace) or (grantee_kind == "user" and grantee == grantor):
                continue  # another grantor's, or the owner's own privileges
            privileges = ", ".join(dict.fromkeys(_ACL_LETTERS.get(c, c) for c in letters if c != "*")) or "ALL"
            clear = (f"SET SESSION AUTHORIZATION {_ident(grantor)}; REVOKE ALL ON {target} FROM "
                     f"{_grantee_sql(grantee, grantee_kind)}; RESET SESSION AUTHORIZATION")
            yield Blocker(grantor, f"granted {privileges} on {described} to {grantee or 'PUBLIC'}", clear, on)


def parse_blockers(rows: Mapping[str, Sequence[Row]], namespace: str) -> dict[str, list[Blocker]]:
    """The three blocker queries' rows (absent: none) as blockers by user name, exactly as the catalog names it."""
    found: dict[str, list[Blocker]] = {}
    for blocker in (*_default_privileges(rows.get(USER_DEFAULT_PRIVILEGES_QUERY, ()), namespace),
                    *_iam_privileges(rows.get(USER_IAM_PRIVILEGES_QUERY, ())),
                    *_grants_made(rows.get(USER_GRANTS_MADE_QUERY, ()), namespace)):
        found.setdefault(blocker.user, []).append(blocker)
    for blockers in found.values():
        blockers.sort(key=lambda b: b.what)
    return found
