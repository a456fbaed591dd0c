"""The import checks its own work: the model it wrote, compiled with the environment, planned against the
snapshot it was read from, must run no DDL (anything else is reported as a problem)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from redshift_idc.access.importer.document import model_text
from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.access.model import parse_model
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.snapshot import CatalogSnapshot
from redshift_idc.runtime.catalog_import import definitions
from redshift_idc.runtime.planner import plan


@dataclass
class ImportResult:
    """The model text, what was left out or needs a person (`warnings`), and what stops it from being
    deployable as written (`problems`: validation errors, planned DDL)."""

    name: str
    text: str
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    adopted: int = 0
    statements: int = 0


def import_model(snapshot: CatalogSnapshot, config: EnvironmentConfig, name: str,
                 source: Path | None = None) -> ImportResult:
    """The model text for `snapshot`, checked: compiled with `config` and planned against the snapshot."""
    reader = CatalogReader(snapshot, config, name)
    text = model_text(reader)
    result = ImportResult(name, text, reader.warnings, reader.problems)
    if snapshot.identity_namespace != config.redshift_idc_application.identity_namespace:
        result.warnings.append(f"the snapshot was read when the identity namespace was "
                               f"'{snapshot.identity_namespace}'; config/{config.name}.yaml now says "
                               f"'{config.redshift_idc_application.identity_namespace}' (IdC roles were matched with "
                               "the latter)")
    for role, count in sorted(reader.skipped.items()):
        result.warnings.append(f"{count} grant(s) or attachment(s) to {role} are left out with it")
    where = source or Path(f"access/{name}.yaml")
    try:
        compiled = parse_model(yaml.safe_load(text), name=name, source=where, environment=config)
    except ConfigError as error:
        result.problems.append(f"it does not validate yet: {error}")
        return result
    model, desired = compiled.model, compiled.desired
    current = reader.parsed.state
    if current.case_sensitive != desired.case_sensitive:
        current = snapshot.parsed(desired.case_sensitive).state
    planned = plan(desired, current, snapshot.ledger_for(name), prune=model.prune,
                   identity_provider_drop_cascade=model.identity_provider_drop_cascade,
                   coalesce=model.coalesce_statements,
                   definitions=definitions(snapshot.rows, desired.case_sensitive))
    result.adopted, result.statements = len(planned.adopt), len(planned.statements)
    if planned.statements:
        shown = "\n  ".join(s.sql for s in planned.statements[:20])
        more = f"\n  ... and {len(planned.statements) - 20} more" if len(planned.statements) > 20 else ""
        result.problems.append(f"planned against the catalog it was read from, it would run {len(planned.statements)} "
                               f"statement(s) instead of none (please report this):\n  {shown}{more}")
    return result
