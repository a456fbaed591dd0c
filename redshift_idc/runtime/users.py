"""Users who left IAM Identity Center (`deprovision_users: true` in the access model).

Redshift creates the database user `<namespace>:<user>` when an IdC user first signs in; nothing removes it
when the person leaves. With the option on, the reconciler reads those users, their direct grants and what
they own (three SELECTs appended to its read batch, `user_queries`), asks the identity store about each
(`IdcDirectory`, at deploy time, with the reconciler's role), and plans, for every user who is gone:

    REVOKE <each direct grant> FROM "<user>"      (phase USER_REVOKE_PHASE)
    ALTER SCHEMA / ALTER TABLE ... OWNER TO <transfer_ownership_to, a user>   (USER_TRANSFER_PHASE, when set)
    DROP USER "<user>"                              (USER_DROP_PHASE)

after everything else of the model (a role the objects go to is created first). Gone means: no user of that
name (userName, or an email address, compared case-insensitively) in the identity store, or a user in none of
the groups the environment assigns to the Redshift IdC application and not assigned on its own. A user who
cannot be checked (AccessDenied, throttling that outlasts the retries) is kept and reported, never dropped.
A user who owns something is refused, with the list of objects, unless `transfer_ownership_to` is set and
every object is one this tool can transfer (schemas, tables, views); the reconciler then fails the deploy
before any change. Users are never in the ledger: the reconciler did not create them.

Catalog columns (REDSHIFT_REFERENCE.md 2.4-2.7): `svv_user_info.user_name, superuser`; the privilege views
with `identity_type = 'user'`. Owners come from PostgreSQL's catalog tables (not in the reference; unconfirmed
on a live workgroup): `pg_namespace.nspowner`, `pg_class.relowner` (relkind 'r' table, 'v' view or
materialized view, its `mv_tbl__*` storage table left out), `pg_proc.proowner`, `pg_database.datdba`, joined to
`pg_user.usesysid` / `usename` (AWS's IdC example filters `pg_user.usename = 'awsidc:...'` [M6]; AWS's
"user cannot be dropped" article reads owners the same way). DROP USER refuses a user who owns an object or
holds a privilege in the current database [r_DROP_USER]; it checks only the current database, so objects the
user owns in another database keep a dangling owner. Default privileges, ASSUMEROLE privileges and grants the
user made to others block it too: user_blockers.py reads them and the user is refused, naming each, except a
default privilege the deploy's own plan revokes first; a user the model names as the `creator` of a default
privilege is refused too, naming the entry (user_defaults.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    DATABASE_PRIVILEGES,
    SCHEMA_PRIVILEGES,
    TABLE_PRIVILEGES,
)
from redshift_idc.runtime.idc_directory import Directory, Verdict
from redshift_idc.runtime.planning.phases import USER_DROP_PHASE, USER_REVOKE_PHASE, USER_TRANSFER_PHASE
from redshift_idc.runtime.planning.plan_types import Plan, Statement
from redshift_idc.runtime.sql_text import quote_ident, quote_literal, quote_qualified
from redshift_idc.runtime.user_blockers import (
    BLOCKER_QUERY_NAMES,
    MV_BACKING_PREFIX,
    Blocker,
    blocker_queries,
    like_escaped,
    parse_blockers,
)
from redshift_idc.runtime.user_defaults import ModelDefaults

Row = tuple[Any, ...]
USERS_QUERY = "idc_users"
USER_PRIVILEGES_QUERY = "idc_user_privileges"
USER_OBJECTS_QUERY = "idc_user_objects"
USER_QUERY_NAMES = (USERS_QUERY, USER_PRIVILEGES_QUERY, USER_OBJECTS_QUERY, *BLOCKER_QUERY_NAMES)
# What the privilege views may report for a database grant: TEMP is also spelled TEMPORARY (unconfirmed which).
_USER_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "schema": SCHEMA_PRIVILEGES, "scoped": TABLE_PRIVILEGES, "table": TABLE_PRIVILEGES,
    "column": COLUMN_PRIVILEGES, "database": (*DATABASE_PRIVILEGES, "TEMPORARY"),
    # Scoped grants on a database (SVV_DATABASE_PRIVILEGES.privilege_scope other than DATABASE), revoked with
    # REVOKE ... FOR <scope> IN DATABASE d (r_REVOKE, t_scoped-permissions; EXECUTE covers procedures too).
    "database_schemas": SCHEMA_PRIVILEGES, "database_tables": TABLE_PRIVILEGES,
    "database_functions": ("EXECUTE",), "database_languages": ("USAGE",),
}
TRANSFERABLE = frozenset({"schema", "table", "view"})


# ------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class DeprovisionSettings:
    """What the model document says about departed users: the identity namespace (the users' prefix) and
    the database user who takes over what they own (`transfer_to`, as Redshift names it; "" for nobody).
    Owners are users in Redshift, never roles (access/compiler/deprovision.py has the evidence)."""

    namespace: str
    transfer_to: str = ""
    transfer_kind: Literal["", "user"] = ""

    @property
    def prefix(self) -> str:
        return f"{self.namespace}:"

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace,
                "transfer_ownership_to": ({"name": self.transfer_to, "kind": self.transfer_kind}
                                          if self.transfer_to else None)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeprovisionSettings:
        target = data.get("transfer_ownership_to") or {}
        kind = str(target.get("kind") or "")
        if kind == "role":  # a document compiled before roles were refused: ALTER ... OWNER TO it would fail
            raise ValueError("transfer_ownership_to: a role cannot own objects in Redshift (owners are users); "
                             "set transfer_ownership_to: user:<name> in the access model and deploy again")
        if kind not in ("", "user"):
            raise ValueError(f"transfer_ownership_to: unknown kind {kind!r}")
        return cls(str(data["namespace"]), str(target.get("name") or ""), kind)  # type: ignore[arg-type]


def idc_name(user: str, namespace: str) -> str | None:
    """The IdC user name of database user `<namespace>:<name>` (the namespace compared case-insensitively,
    as Redshift's stored case is unconfirmed), or None for another user."""
    prefix = f"{namespace}:"
    if len(user) > len(prefix) and user[:len(prefix)].casefold() == prefix.casefold():
        return user[len(prefix):]
    return None


# -------------------------------------------------------------------------------------------- catalog


def user_queries(namespace: str) -> list[tuple[str, str]]:
    """(name, SQL): the namespace's users, their direct grants, what they own (never a materialized view's
    `mv_tbl__*` storage table: it goes with its view) and what else blocks DROP USER; SELECTs only."""
    like = quote_literal(f"{like_escaped(namespace)}:%")  # ILIKE '<namespace>:%', its own wildcards escaped
    user = f"identity_type = 'user' AND identity_name ILIKE {like}"
    privileges = " UNION ALL ".join((
        "SELECT 'schema', identity_name, privilege_type, namespace_name, '', '', privilege_scope "
        f"FROM svv_schema_privileges WHERE {user}",
        "SELECT 'table', identity_name, privilege_type, namespace_name, relation_name, '', '' "
        f"FROM svv_relation_privileges WHERE {user}",
        "SELECT 'column', identity_name, privilege_type, namespace_name, relation_name, column_name, '' "
        f"FROM svv_column_privileges WHERE {user}",
        "SELECT 'database', identity_name, privilege_type, database_name, '', '', privilege_scope "
        f"FROM svv_database_privileges WHERE {user}",
    ))
    owner = f"u.usename ILIKE {like}"
    objects = " UNION ALL ".join((
        "SELECT u.usename, 'schema', n.nspname, '' FROM pg_namespace n JOIN pg_user u ON u.usesysid = n.nspowner "
        f"WHERE {owner}",
        "SELECT u.usename, CASE WHEN c.relkind = 'v' THEN 'view' ELSE 'table' END, n.nspname, c.relname "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_user u ON u.usesysid = c.relowner "
        f"WHERE c.relkind IN ('r', 'v') AND n.nspname NOT LIKE 'pg\\\\_temp\\\\_%' "
        f"AND c.relname NOT LIKE 'mv\\\\_tbl\\\\_\\\\_%' AND {owner}",
        "SELECT u.usename, 'function', n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n "
        f"ON n.oid = p.pronamespace JOIN pg_user u ON u.usesysid = p.proowner WHERE {owner}",
        "SELECT u.usename, 'database', '', d.datname FROM pg_database d JOIN pg_user u ON u.usesysid = d.datdba "
        f"WHERE {owner}",
    ))
    return [
        (USERS_QUERY, f"SELECT user_name, superuser FROM svv_user_info WHERE user_name ILIKE {like}"),
        (USER_PRIVILEGES_QUERY, privileges),
        (USER_OBJECTS_QUERY, objects),
        *blocker_queries(namespace, like),
    ]


@dataclass(frozen=True)
class UserGrant:
    """A privilege granted to the user itself (not through a role). `target`: (schema,), (schema, table),
    (schema, table, column) or (database,)."""

    kind: str  # schema, scoped, table, column, database
    user: str
    privilege: str
    target: tuple[str, ...]

    @property
    def revocable(self) -> bool:
        """Known keywords only: they are emitted unquoted (catalog rows are input too)."""
        return self.privilege in _USER_PRIVILEGES.get(self.kind, ())

    def describe(self) -> str:
        where = {"schema": "on schema", "scoped": "on tables in schema", "table": "on table", "column": "on column",
                 "database": "on database"}.get(self.kind, f"on {self.kind}")
        if self.kind.startswith("database_"):  # "USAGE for schemas in database d"
            where = f"for {self.kind.removeprefix('database_')} in database"
        return f"{self.privilege} {where} {'.'.join(self.target)}"

    def revoke_sql(self) -> str:
        if not self.revocable:
            raise ValueError(f"cannot revoke {self.describe()} from {self.user}: unknown privilege or scope")
        user = quote_ident(self.user)
        if self.kind == "schema":
            return f"REVOKE {self.privilege} ON SCHEMA {quote_ident(self.target[0])} FROM {user}"
        if self.kind == "scoped":
            return f"REVOKE {self.privilege} FOR TABLES IN SCHEMA {quote_ident(self.target[0])} FROM {user}"
        if self.kind == "table":
            return f"REVOKE {self.privilege} ON TABLE {quote_qualified(*self.target[:2])} FROM {user}"
        if self.kind == "column":
            return (f"REVOKE {self.privilege} ({quote_ident(self.target[2])}) ON TABLE "
                    f"{quote_qualified(*self.target[:2])} FROM {user}")
        if self.kind.startswith("database_"):
            scope = self.kind.removeprefix("database_").upper()
            return f"REVOKE {self.privilege} FOR {scope} IN DATABASE {quote_ident(self.target[0])} FROM {user}"
        return f"REVOKE {self.privilege} ON DATABASE {quote_ident(self.target[0])} FROM {user}"


@dataclass(frozen=True)
class OwnedObject:
    owner: str
    kind: str  # schema, table, view, function, database
    schema: str
    name: str

    @property
    def transferable(self) -> bool:
        return self.kind in TRANSFERABLE

    @property
    def backing(self) -> bool:
        """A materialized view's storage table (`mv_tbl__<view>__<n>`, relkind 'r'): it goes with its view
        (relkind 'v') and is never transferred on its own. The read leaves them out; older rows may not."""
        return self.kind == "table" and self.name.startswith(MV_BACKING_PREFIX)

    @property
    def key(self) -> tuple[str, str, str]:
        """As user_blockers.Blocker.on names the object a grant is on."""
        kind = "relation" if self.kind in ("table", "view") else self.kind
        return kind, "" if kind == "database" else self.schema, "" if kind == "schema" else self.name

    def describe(self) -> str:
        if self.kind == "schema":
            return f"schema {self.schema}"
        if self.kind == "database":
            return f"database {self.name}"
        return f"{self.kind} {self.schema}.{self.name}"

    def transfer_sql(self, new_owner: str) -> str:
        if self.kind == "schema":
            return f"ALTER SCHEMA {quote_ident(self.schema)} OWNER TO {quote_ident(new_owner)}"
        if self.kind in ("table", "view"):  # Redshift changes a view's owner with ALTER TABLE too
            return f"ALTER TABLE {quote_qualified(self.schema, self.name)} OWNER TO {quote_ident(new_owner)}"
        raise ValueError(f"cannot transfer {self.describe()}: transfer it by hand")


@dataclass
class UserCatalog:
    """The namespace's users as the read batch saw them, names exactly as the catalog returns them."""

    namespace: str
    users: dict[str, bool] = field(default_factory=dict)  # user name -> superuser
    grants: dict[str, list[UserGrant]] = field(default_factory=dict)
    objects: dict[str, list[OwnedObject]] = field(default_factory=dict)
    blockers: dict[str, list[Blocker]] = field(default_factory=dict)  # user_blockers.py

    def grants_of(self, user: str) -> list[UserGrant]:
        """The user's direct grants (names compared case-insensitively: the views' case is unconfirmed)."""
        return [g for name, grants in self.grants.items() if name.casefold() == user.casefold() for g in grants]

    def objects_of(self, user: str) -> list[OwnedObject]:
        return [o for name, owned in self.objects.items() if name.casefold() == user.casefold() for o in owned]

    def blockers_of(self, user: str) -> list[Blocker]:
        return [b for name, found in self.blockers.items() if name.casefold() == user.casefold() for b in found]

    def candidates(self, exclude: Iterable[str] = ()) -> list[str]:
        """Users the identity store is asked about: the namespace's, never a superuser nor `exclude`
        (the reader itself, the user objects are transferred to), compared case-insensitively."""
        skip = {name.casefold() for name in exclude if name}
        return sorted(user for user, superuser in self.users.items()
                      if not superuser and user.casefold() not in skip and idc_name(user, self.namespace))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("t", "true", "1")


def parse_users(rows: Mapping[str, Sequence[Row]], namespace: str) -> UserCatalog:
    """The three user queries' rows (absent: no rows) as a catalog of the namespace's users."""
    catalog = UserCatalog(namespace)
    for name, superuser in rows.get(USERS_QUERY, ()):
        if idc_name(str(name), namespace) is not None:
            catalog.users[str(name)] = _flag(superuser)
    for kind, user, privilege, first, relation, column, scope in rows.get(USER_PRIVILEGES_QUERY, ()):
        user = str(user)
        scope_text = _text(scope).upper()
        kind = str(kind)
        if kind == "schema" and scope_text == "TABLES":
            kind = "scoped"
        elif kind == "schema" and scope_text not in ("", "SCHEMA"):
            kind = f"schema scope {scope_text}"  # FUNCTIONS and anything newer: not revocable here
        elif kind == "database" and scope_text not in ("", "DATABASE"):  # FOR SCHEMAS/... IN DATABASE
            kind = f"database_{scope_text.lower()}"  # a scope not in _USER_PRIVILEGES is not revocable: refused
        target = {"column": (_text(first), _text(relation), _text(column)),
                  "table": (_text(first), _text(relation))}.get(kind, (_text(first),))
        catalog.grants.setdefault(user, []).append(UserGrant(kind, user, _text(privilege).upper(), target))
    for owner, kind, schema, name in rows.get(USER_OBJECTS_QUERY, ()):
        catalog.objects.setdefault(str(owner), []).append(OwnedObject(str(owner), str(kind), _text(schema),
                                                                      _text(name)))
    catalog.blockers = parse_blockers(rows, namespace)
    for found in (catalog.grants, catalog.objects):
        for items in found.values():
            items.sort(key=lambda item: (item.kind, item.describe()))
    return catalog


# ------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Refusal:
    user: str
    reason: str  # why the user counts as gone
    blockers: tuple[str, ...]  # what keeps it from being dropped
    advice: str

    def message(self) -> str:
        return f"{self.user} ({self.reason}): {'; '.join(self.blockers)}; {self.advice}"


@dataclass
class Departures:
    """What deprovisioning found on one read, and the statements that remove the departed users."""

    gone: list[Verdict] = field(default_factory=list)  # dropped by the statements
    kept: list[Verdict] = field(default_factory=list)
    unchecked: list[Verdict] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [*self.notes, *(f"user {v.user} was not checked in IAM Identity Center ({v.reason}); kept, checked "
                               "again at the next deploy" for v in self.unchecked)]

    def report_lines(self) -> list[str]:
        """For the drift report: who would be removed and why, and who is refused."""
        if not (self.gone or self.refused):
            return []
        lines = [f"users who left IAM Identity Center (deprovision_users): {len(self.gone)} removed, "
                 f"{len(self.refused)} refused"]
        lines += [f"  remove {v.user}: {v.reason}" for v in self.gone]
        lines += [f"  refuse {r.message()}" for r in self.refused]
        return lines

    def refusal_error(self, model: str) -> str:
        return (f"deprovision_users (access/{model}.yaml): refusing to drop {len(self.refused)} user(s) who left "
                "IAM Identity Center, before any change: " + " | ".join(r.message() for r in self.refused))


def departures(catalog: UserCatalog, settings: DeprovisionSettings, verdicts: Sequence[Verdict],
               defaults: ModelDefaults | None = None) -> Departures:
    """The statements that remove every `gone` user (revoke its grants, transfer what it owns, drop it), or
    the refusal naming what it owns or holds when that cannot be done. `defaults`: the default privileges the
    model declares and the deploy's plan revokes (user_defaults.py): a declared creator is refused, and a default
    privilege the plan revokes before the user phases blocks nothing."""
    defaults = defaults or ModelDefaults()
    result = Departures()
    for verdict in verdicts:
        if verdict.status == "kept":
            result.kept.append(verdict)
            continue
        if verdict.status == "unchecked":
            result.unchecked.append(verdict)
            continue
        user = verdict.user  # as svv_user_info names it: what REVOKE and DROP USER name too
        grants = [UserGrant(g.kind, user, g.privilege, g.target) for g in catalog.grants_of(user)]
        objects = [o for o in catalog.objects_of(user) if not o.backing]
        stuck = [f"holds {g.describe()} (revoke it by hand)" for g in grants if not g.revocable]
        by_hand = [o for o in objects if not o.transferable]
        if by_hand:
            stuck.append(f"owns {', '.join(o.describe() for o in by_hand)} (transfer by hand: ALTER FUNCTION/"
                         "PROCEDURE ... OWNER TO with its argument types, ALTER DATABASE ... OWNER TO)")
        movable = [o for o in objects if o.transferable]
        if movable and not settings.transfer_to:
            stuck.append(f"owns {', '.join(o.describe() for o in movable)}")
        owned = {o.key for o in objects}  # grants made on them: refused as owned, or handed over with the object
        blockers = [b.describe() for b in catalog.blockers_of(user)
                    if b.on not in owned and not defaults.accounts_for(b)]
        declared, remove_entries = defaults.refusal(user)
        if declared or stuck or blockers:
            advice = ("set transfer_ownership_to: user:<name> (a database user; Redshift owners are users) to have "
                      "schemas, tables and views transferred, or transfer or drop them by hand, then deploy again")
            if not stuck:
                advice = "clear each by hand (as a superuser), as shown, then deploy again"
            advice = "; ".join(([remove_entries] if declared else []) + ([advice] if stuck or blockers else []))
            result.refused.append(Refusal(user, verdict.reason, (*declared, *stuck, *blockers), advice))
            continue
        result.gone.append(verdict)
        result.statements += [Statement(USER_REVOKE_PHASE, ("user", user, grant.kind, *grant.target, grant.privilege),
                                        grant.revoke_sql()) for grant in grants]
        result.statements += [Statement(USER_TRANSFER_PHASE, ("user", user, item.kind, item.schema, item.name),
                                        item.transfer_sql(settings.transfer_to)) for item in movable]
        result.statements.append(Statement(USER_DROP_PHASE, ("user", user), drop_user_sql(user)))
    return result


def drop_user_sql(user: str) -> str:
    return f"DROP USER {quote_ident(user)}"


def check_users(catalog: UserCatalog, settings: DeprovisionSettings, directory: Directory, *, reader: str,
                cache: dict[str, Verdict] | None = None, log: Callable[[str], None] | None = None,
                defaults: ModelDefaults | None = None) -> Departures:
    """Ask `directory` about every candidate (cached in `cache` by user name) and plan their departure, against
    `defaults`: what the model and the deploy's plan do with default privileges (`ModelDefaults.of`)."""
    cache = cache if cache is not None else {}
    exclude = [reader, settings.transfer_to]
    verdicts: list[Verdict] = []
    for user in catalog.candidates(exclude):
        if user not in cache:
            name = idc_name(user, settings.namespace)
            assert name is not None  # candidates are the namespace's
            cache[user] = directory.verdict(user, name)
            if log is not None:
                log(f"deprovision_users: {user}: {cache[user].status} ({cache[user].reason})")
        verdicts.append(cache[user])
    result = departures(catalog, settings, verdicts, defaults)
    result.notes += list(getattr(directory, "notes", ()))
    return result


def with_statements(planned: Plan, statements: Sequence[Statement]) -> Plan:
    """`planned` with `statements` merged in, in phase order (what `plan` keeps)."""
    if not statements:
        return planned
    merged = sorted([*planned.statements, *statements], key=lambda s: (s.phase, s.sort_key))
    return replace(planned, statements=merged)
