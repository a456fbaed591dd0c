"""The example's preview mode: each persona's rows from the project's access preview, no AWS and no IdP.

A new user gets a working page on a fresh machine: pick a persona (and a table) and see what the access
model would let that person see on the model's sample rows, computed offline by `redshift_idc.access.preview`
(DuckDB), the same engine as `make preview`. `?persona=NAME&table=schema.table` in the URL chooses them.
"""

from __future__ import annotations

import streamlit as st

from examples.streamlit_tip.text import plain
from redshift_idc.access.checked import environment_preview
from redshift_idc.access.preview.results import Preview
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.wording import plural

DEFAULT_ENVIRONMENT = "demo"
DEFAULT_TABLE = "public.sales_data"
PERSONA_KEY = "preview.persona"
TABLE_KEY = "preview.table"


@st.cache_resource(show_spinner=False)
def _preview(environment: str) -> Preview:
    """Once per server process and environment: the model and its sample rows do not change while it runs."""
    return environment_preview(load_environment(environment))[1]


def _index(options: list[str], wanted: str | None, default: str | None = None) -> int:
    lowered = [o.lower() for o in options]
    for choice in (wanted, default):
        if choice and choice.lower() in lowered:
            return lowered.index(choice.lower())
    return 0


def show(environment: str) -> None:
    st.title("Sales data, as each persona would see it")
    st.info("Preview mode: no AWS and no sign-in. The rows are the access model's sample rows as each persona "
            "would see them (`make preview`). For the real sign-in set TIP_OIDC_ISSUER and TIP_OIDC_CLIENT_ID "
            "(examples/streamlit_tip/README.md).")
    try:
        preview = _preview(environment)
    except ConfigError as error:
        st.error(str(error))
        return
    names = [view.persona.name for view in preview.personas]
    if not names:
        st.warning(f"access/{plain(preview.model)}.yaml has no personas and no IdC groups to preview.")
        return
    asked = st.query_params.get("persona")
    known = asked is None or asked.lower() in (n.lower() for n in names)
    # An unknown ?persona= selects no one, rather than the first persona as if it had been asked for.
    name = st.selectbox("Persona", names, index=_index(names, asked) if known else None, key=PERSONA_KEY)
    if name is None:
        st.error(plain(f"No persona '{asked}' in access/{preview.model}.yaml; choose one of the known: "
                       f"{', '.join(names)}."))
        return
    view = preview.personas[names.index(name)]
    tables = [t.table for t in view.tables]
    if not tables:
        st.warning(f"access/{plain(preview.model)}.yaml declares no tables.")
        return
    chosen = st.selectbox("Table", tables, index=_index(tables, st.query_params.get("table"), DEFAULT_TABLE),
                          key=TABLE_KEY)
    st.query_params.update({"persona": name, "table": chosen})
    table = view.tables[tables.index(chosen)]
    persona = view.persona
    st.caption(plain(f"{persona.name}: user {persona.user}, groups {', '.join(persona.groups) or 'none'}, "
                     f"roles {', '.join(persona.roles)}"))
    if table.access == "denied":
        st.error(plain(f"{persona.name} may not read {table.table}: missing {' and '.join(table.missing)}."))
        return
    st.write(plain(f"{len(table.rows)} of {plural(table.total_rows, 'sample row')} visible to {persona.name}:"))
    why = table.why()
    if why:
        st.caption(plain("; ".join(why)))
    if table.rows:
        st.table({column: [row[column] for row in table.rows] for column in table.columns})
    else:
        st.info(plain(f"{persona.name} sees no rows of {table.table}."))
    if preview.warnings:
        with st.expander(f"{len(preview.warnings)} preview warning(s)"):
            for warning in preview.warnings:
                st.write(plain(f"[{warning.code}] {warning.message}"))
