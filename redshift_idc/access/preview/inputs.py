"""The preview's inputs: the tables, personas and sample rows' sources, kept apart from the rules so the
review can evaluate the base branch's rules on the head's sample rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redshift_idc.access.model_file import AccessModel
from redshift_idc.access.preview.results import PreviewError
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.sql_text import fold

INPUTS_SUFFIX = ".preview.json"  # <stack artifact id><suffix> in a cloud assembly: the stack's PreviewInputs


@dataclass(frozen=True)
class PreviewInputs:
    """What the rules are evaluated on: the tables, the personas and the sample rows' sources.

    They are kept apart from the rules (the compiled `AccessState`) so that `make review` can evaluate the
    base branch's rules on the head's sample rows: synth writes them into the cloud assembly beside the
    template (`<stack>.preview.json`), and the review reads them back with `from_json`."""

    model: str
    identity_namespace: str
    case_sensitive: bool
    tables: dict[str, tuple[str, ...]]  # schema.table -> declared columns, in order
    personas: tuple[tuple[str, tuple[str, ...]], ...]  # (name, IdC groups); the default one per group resolved
    scripts: tuple[ScriptEntry, ...] = ()  # the model's scripts (their INSERT ... VALUES are sample rows)
    csv: dict[str, tuple[str, str]] = field(default_factory=dict)  # table -> (file name, CSV text)

    @property
    def source(self) -> str:
        return f"access/{self.model}.yaml"

    @classmethod
    def of_model(cls, model: AccessModel, scripts: Sequence[ScriptEntry], identity_namespace: str,
                 access_dir: Path) -> PreviewInputs:
        """The model's personas (or one per IdC group, named after it) and its sample data files read."""
        personas = tuple((p.name, tuple(p.groups)) for p in model.personas) or tuple(
            (g, (g,)) for g in model.roles.idc_groups)
        csv_texts: dict[str, tuple[str, str]] = {}
        for table, relative in sorted(model.sample_data.items()):
            where = f"access/{model.name}.yaml: sample_data.{table}"
            path = access_dir / relative
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise PreviewError(f"{where}: no such file access/{relative} (CSV files sit beside the model)"
                                   ) from None
            except (OSError, UnicodeDecodeError) as error:
                raise PreviewError(f"{where}: cannot read access/{relative} as UTF-8 text: {error}") from None
            header = next(csv.reader(text.splitlines()), [])
            declared = {fold(c, model.case_sensitive_identifiers) for c in model.tables.get(table, ())}
            unknown = [h for h in header if fold(h, model.case_sensitive_identifiers) not in declared]
            if unknown:
                raise PreviewError(f"{where}: access/{relative} has columns {', '.join(unknown)} that `tables` "
                                   f"does not declare for {table}")
            csv_texts[table] = (relative, text)
        return cls(model.name, identity_namespace, model.case_sensitive_identifiers,
                   {t: tuple(c) for t, c in model.tables.items()}, personas, tuple(scripts), csv_texts)

    def to_json(self) -> dict[str, Any]:
        """Everything but the scripts, which the assembly's model document already holds."""
        return {"model": self.model, "identity_namespace": self.identity_namespace,
                "case_sensitive": self.case_sensitive,
                "tables": {t: list(c) for t, c in sorted(self.tables.items())},
                "personas": [{"name": n, "groups": list(g)} for n, g in self.personas],
                "csv": {t: {"file": f, "text": text} for t, (f, text) in sorted(self.csv.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any], scripts: Sequence[ScriptEntry]) -> PreviewInputs:
        return cls(str(data["model"]), str(data["identity_namespace"]), bool(data["case_sensitive"]),
                   {str(t): tuple(str(c) for c in cs) for t, cs in data["tables"].items()},
                   tuple((str(p["name"]), tuple(str(g) for g in p["groups"])) for p in data["personas"]),
                   tuple(scripts), {str(t): (str(v["file"]), str(v["text"])) for t, v in data["csv"].items()})


def write_inputs(assembly: Path, artifact_id: str, inputs: PreviewInputs) -> Path:
    """Writes the inputs into a cloud assembly directory, sorted, so the same model gives the same bytes."""
    assembly.mkdir(parents=True, exist_ok=True)
    path = assembly / f"{artifact_id}{INPUTS_SUFFIX}"
    path.write_text(json.dumps(inputs.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path
