"""One owner per object: an object another access model's ledger holds is never adopted, created, altered or
removed by this one. Declaring one refuses the plan, and so does removing what another model's objects hang on
(a role their grants name, a policy their attachments use): these are the messages that say which, and why."""

from __future__ import annotations

from collections.abc import Iterable

from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.planning.plan_types import Owners

OWNERSHIP_SHOWN = 10  # objects an ownership error lists by name; the rest are counted


class OwnershipError(ValueError):
    """The plan would adopt, create, change or remove an object another access model manages."""


def described(kind: str, key: tuple[str, ...]) -> str:
    return f"{kind} {'.'.join(key)}"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:OWNERSHIP_SHOWN])
    return shown + (f" and {len(items) - OWNERSHIP_SHOWN} more" if len(items) > OWNERSHIP_SHOWN else "")


def declared_by_others(desired: AccessState, owners: Owners) -> list[tuple[str, tuple[str, ...], str]]:
    """(kind, key, owning model) of every object `desired` declares that another model's ledger holds, sorted."""
    return sorted((kind, key, owner) for (kind, key), owner in owners.items() if desired.get(kind, key) is not None)


def ownership_message(declared: Iterable[tuple[str, tuple[str, ...], str]],
                      taken: Iterable[tuple[str, tuple[str, ...], str, str]] = ()) -> str:
    """Why the plan is refused: the objects (and their models) it declares, then those its removals would take
    along (and which removal). Empty when there is neither."""
    parts: list[str] = []
    named = [f"{described(kind, key)} (access model '{owner}')" for kind, key, owner in declared]
    if named:
        parts.append(f"this model declares {len(named)} object(s) that another access model manages: {_listed(named)}."
                     " An object has one owner, the model whose ledger records it, and no other model adopts, "
                     "changes or removes it: declare each object in one model only")
    along = [f"{described(kind, key)} (access model '{owner}', by {cause})" for kind, key, owner, cause in taken]
    if along:
        parts.append(f"removing what this model manages would take along {len(along)} object(s) that another access "
                     f"model manages: {_listed(along)}. Remove them from that model first, or keep here what they "
                     "depend on")
    return "; ".join(parts)

