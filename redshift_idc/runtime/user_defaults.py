"""Default privileges of users who left (deprovision_users) that the access model declares or revokes (issue 23).

A departing user who is the `creator` of a `default_privileges:` entry the model still declares is refused: once
the user is dropped, the entry's `ALTER DEFAULT PRIVILEGES FOR USER ...` names nobody, and every later deploy would
fail on it. The refusal names the entry as the model file writes it and the two ways out: remove the entry from
the model (its REVOKE then runs in the same deploy, before the DROP USER), or keep the user.

A default privilege the user owns is otherwise a blocker of DROP USER (user_blockers.py, amazon-redshift-utils
issue 492), with one exception: the deploy's own plan revokes it (the ledger says the model granted it, and the
model no longer declares it). The plan's `ALTER DEFAULT PRIVILEGES ... REVOKE` runs in a model phase, before every
user phase (phases.py: revokes 9-16, users 91-93), so by the DROP USER it is gone. Only statements of those earlier
phases count here, so the order is checked, not assumed; coalescing keeps each statement's phase and lists every
object a statement removes (`Statement.removes`). Default privileges the model never granted (a loader's own)
stay blockers: clearing them changes what the tables that user's jobs create next get, which no model decided.

Users are compared case-insensitively, as the other user checks do (`UserCatalog.blockers_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from redshift_idc.runtime.access_state import DEFAULT_PRIVILEGES, AccessState, DefaultPrivilege
from redshift_idc.runtime.planning.phases import USER_REVOKE_PHASE
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.user_blockers import Blocker


def _match(item: DefaultPrivilege, case_sensitive: bool) -> tuple[str, ...]:
    """What makes two default privileges the same for this check: the state's key, its creator in any case."""
    creator, *rest = item.key(case_sensitive)
    return (creator.casefold(), *rest)


@dataclass(frozen=True)
class ModelDefaults:
    """The default privileges the model declares (`desired`) and those the deploy's plan revokes before the user
    phases, for the departing-user checks. `model` names the file in messages ("" for an unnamed model)."""

    model: str = ""
    declared: tuple[DefaultPrivilege, ...] = ()
    revoked: tuple[DefaultPrivilege, ...] = ()
    case_sensitive: bool = False

    @classmethod
    def of(cls, model: str, desired: AccessState, planned: Plan) -> ModelDefaults:
        declared = tuple(item for item in desired.of_kind(DefaultPrivilege.KIND).values()
                         if isinstance(item, DefaultPrivilege))
        revoked = tuple(item for statement in planned.statements if statement.phase < USER_REVOKE_PHASE
                        for item in statement.removes if isinstance(item, DefaultPrivilege))
        return cls(model, declared, revoked, desired.case_sensitive)

    @property
    def source(self) -> str:
        return f"access/{self.model}.yaml" if self.model else "the access model"

    def declared_by(self, user: str) -> list[DefaultPrivilege]:
        """The declared default privileges whose creator is `user`."""
        return [item for item in self.declared if item.creator.casefold() == user.casefold()]

    def accounts_for(self, blocker: Blocker) -> bool:
        """A default privilege blocker the deploy takes care of: its plan revokes it before the DROP USER, or the
        model declares it (the user is then refused naming the entry, not this row)."""
        return blocker.default is not None and _match(blocker.default, self.case_sensitive) in self._known

    @cached_property
    def _known(self) -> frozenset[tuple[str, ...]]:
        """The declared and revoked default privileges as `_match` compares them (once, not per blocker)."""
        return frozenset(_match(item, self.case_sensitive) for item in (*self.declared, *self.revoked))

    def refusal(self, user: str) -> tuple[list[str], str]:
        """(what the refusal lists, its advice) for a departing user who is a declared creator; ([], "") if not."""
        entries = describe_entries(self.declared_by(user))
        if not entries:
            return [], ""
        listed = [f"is the creator of the default_privileges entry {entry} in {self.source}" for entry in entries]
        them = "it" if len(entries) == 1 else "them"
        advice = (f"remove {them} from {self.source} (the deploy then revokes {them} before the DROP USER, in the "
                  "same deploy), or keep the user (assign it to the application again in IAM Identity Center)")
        return listed, advice


def describe_entries(items: list[DefaultPrivilege]) -> list[str]:
    """The default privileges as `default_privileges:` entries in the model file's flow form, one per creator,
    schema, object type and set of privileges, with every grantee that set goes to: exactly what they grant, in
    as few entries as that allows (the model compiles one object per privilege and grantee)."""
    privileges: dict[tuple[str, str, str, str], set[str]] = {}
    for item in items:
        privileges.setdefault((item.creator, item.schema, item.objects, item.grantee), set()).add(item.privilege)
    grantees: dict[tuple[str, str, str, tuple[str, ...]], list[str]] = {}
    for (creator, schema, objects, grantee), held in sorted(privileges.items()):
        order = DEFAULT_PRIVILEGES.get(objects, ())
        ordered = tuple(sorted(held, key=lambda p: (order.index(p) if p in order else len(order), p)))
        grantees.setdefault((creator, schema, objects, ordered), []).append(grantee)
    lines = []
    for (creator, schema, objects, ordered), names in grantees.items():
        where = f"schema: {schema}, " if schema else ""
        to = ", ".join(names)
        wide = "" if schema else " (database-wide)"
        lines.append(f"{{creator: {creator}, {where}on: {objects.lower()}, privileges: [{', '.join(ordered)}], "
                     f"to: [{to}]}}{wide}")
    return lines
