"""What a persona gets on the objects a creator makes later: the model's default privileges
(`ALTER DEFAULT PRIVILEGES FOR USER creator [IN SCHEMA s] GRANT ...`, r_ALTER_DEFAULT_PRIVILEGES) read by role.

No sample row exists for a table nobody has created yet, so the preview says what Redshift will do with it: the
privileges the persona's roles (or PUBLIC) get on it, whether the persona can reach it (USAGE on the schema, as for
any table: r_GRANT), and that nothing restricts its rows or values yet. A new table has row-level security off and
no masking policy attached until a deploy attaches them (r_ALTER_TABLE, r_ATTACH_MASKING_POLICY): a reader of the
review should see that a loader's next table is readable whole.
"""

from __future__ import annotations

from redshift_idc.access.preview.results import LaterView, Persona
from redshift_idc.access.preview.rules import Rules
from redshift_idc.runtime.access_state import DEFAULT_PRIVILEGES

OBJECT_ORDER = tuple(DEFAULT_PRIVILEGES)  # TABLES, FUNCTIONS, PROCEDURES


def later_views(rules: Rules, persona: Persona) -> list[LaterView]:
    """The persona's view of each (creator, schema, object type) the model's default privileges name, in a stable
    order (object type as the grammar lists them, then creator, then schema, database-wide first)."""
    held = set(persona.roles)
    views = []
    for (creator, schema, objects), by_grantee in sorted(
            rules.defaults.items(), key=lambda item: (OBJECT_ORDER.index(item[0][2]), item[0][0], item[0][1])):
        got = {p for grantee, privileges in by_grantee.items() if grantee in held for p in privileges}
        order = DEFAULT_PRIVILEGES[objects]
        usage = rules.has_usage(rules.fold(schema), held) if schema else None
        views.append(LaterView(creator, schema, objects, tuple(p for p in order if p in got), usage))
    return views
