"""The preview as `preview` prints it: text, markdown (the review's table) or JSON."""

from __future__ import annotations

import json

from redshift_idc.access.preview.results import Preview


def render_text(preview: Preview, limit: int = 20) -> str:
    lines = [f"-- access preview of access/{preview.model}.yaml on its sample rows (offline)"]
    for view in preview.personas:
        p = view.persona
        lines.append(f"{p.name} (user {p.user}; roles {', '.join(p.roles)})")
        for t in view.tables:
            if t.access == "denied":
                lines.append(f"  {t.table}: denied, missing {' and '.join(t.missing)}")
                continue
            why = t.why()
            lines.append(f"  {t.table}: ok, {len(t.rows)} of {t.total_rows} row(s)"
                         + (f" ({'; '.join(why)})" if why else ""))
            for row in t.rows[:limit]:
                lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
            if len(t.rows) > limit:
                lines.append(f"    ... {len(t.rows) - limit} more")
        lines += [f"  {later.title}: {later.describe()}" for later in view.later]
    for w in preview.warnings:
        lines.append(f"warning [{w.code}]: {w.message}")
    lines += [f"failed expectation: {f}" for f in preview.failures]
    return "\n".join(lines) + "\n"


def render_markdown(preview: Preview) -> str:
    lines = [f"### Who sees what (access/{preview.model}.yaml, sample rows)", "",
             "| persona | table | access | rows | masked | why |", "|---|---|---|---|---|---|"]
    for view in preview.personas:
        for t in view.tables:
            if t.access == "denied":
                missing = " and ".join(t.missing)
                lines.append(f"| {view.persona.name} | {t.table} | denied | - | - | missing {missing} |")
                continue
            why = ("IGNORE RLS" if t.ignore_rls else f"RLS {t.conjunction}: {', '.join(t.policies) or 'none'}"
                   if t.rls else "")
            lines.append(f"| {view.persona.name} | {t.table} | ok | {len(t.rows)} of {t.total_rows} | "
                         f"{', '.join(t.masked_columns) or '-'} | {why} |")
        for later in view.later:
            access = ", ".join(later.privileges) if later.access == "ok" else later.access
            lines.append(f"| {view.persona.name} | {later.title} | {access} | - | - | default privileges |")
    if preview.warnings:
        lines += ["", *(f"- **{w.code}**: {w.message}" for w in preview.warnings)]
    return "\n".join(lines) + "\n"


def render_json(preview: Preview) -> str:
    return json.dumps(preview.to_json(), indent=2, ensure_ascii=False) + "\n"
