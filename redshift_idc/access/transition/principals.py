"""Who the transition check judges: every role, PUBLIC, every persona, and every pair of roles restricted
on one table; and the roles each holds through a state's role grants."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.rules import PUBLIC
from redshift_idc.access.transition.table_rules import Table
from redshift_idc.runtime.access_state import (
    AccessState,
    MaskingAttachment,
    RlsAttachment,
    Role,
)
from redshift_idc.runtime.planning.scope import is_system_role
from redshift_idc.runtime.sql_text import fold


@dataclass(frozen=True)
class Principal:
    """Who is checked: the roles it holds directly (its effective roles follow each state's role grants), the
    user `current_user` names, and the tables it is checked on (None: every table)."""

    name: str
    direct: tuple[str, ...]
    user: str
    tables: frozenset[Table] | None = None


ROLE_USER = "principal"  # current_user of a role, PUBLIC or pair principal: no sample row names it


def principals(inputs: PreviewInputs | None, states: Sequence[AccessState]) -> list[Principal]:
    """Every role of the states, PUBLIC, every persona, and every pair of roles both restricted on one table (RLS
    or masking attachments there, in any state), checked on the tables they share."""
    cs = states[0].case_sensitive
    roles: set[str] = set()
    for state in states:
        roles |= {key[0] for key in state.of_kind(Role.KIND) if not is_system_role(key[0])}
    found = [Principal("PUBLIC", (), ROLE_USER)]
    found += [Principal(f"role {r}", (r,), ROLE_USER) for r in sorted(roles)]
    if inputs is not None:
        # A persona's groups are the model's IdC roles, named as the states key them (role names keep their case).
        spelled = {fold(r, cs): r for r in sorted(roles)}

        def role_of(group: str) -> str:
            name = f"{inputs.identity_namespace}:{group}"
            return spelled.get(fold(name, cs), name)

        found += [Principal(f"persona {name}", tuple(role_of(g) for g in groups),
                            fold(f"{inputs.identity_namespace}:{name}", cs)) for name, groups in inputs.personas]
    shared: dict[Table, set[str]] = {}
    for state in states:
        for kind, at in ((RlsAttachment.KIND, 3), (MaskingAttachment.KIND, 4)):
            for key in state.of_kind(kind):
                if key[at] != PUBLIC:
                    shared.setdefault((key[1], key[2]), set()).add(key[at])
    pairs: dict[tuple[str, str], set[Table]] = {}
    for table, grantees in shared.items():
        ordered = sorted(grantees)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pairs.setdefault((a, b), set()).add(table)
    found += [Principal(f"roles {a} and {b}", (a, b), ROLE_USER, frozenset(tables))
              for (a, b), tables in sorted(pairs.items())]
    return found


def effective_roles(granted: dict[str, set[str]], direct: Iterable[str]) -> frozenset[str]:
    """Folded: the direct roles, the roles granted to them (transitively), and PUBLIC."""
    held = set(direct)
    todo = list(held)
    while todo:
        for role in granted.get(todo.pop(), ()):
            if role not in held:
                held.add(role)
                todo.append(role)
    return frozenset({*held, PUBLIC})
