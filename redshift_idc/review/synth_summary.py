"""The short report `make synth` prints: what was synthesized, where, and what to run next."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from redshift_idc.config.errors import ConfigError
from redshift_idc.wording import plural

DEMO = "demo"


def stack_prefix_of(environment: str) -> str:
    """The prefix of an environment's stack names (`EnvironmentConfig.stack_prefix`, from the name alone)."""
    return "".join(part.capitalize() for part in environment.split("-"))


def read_stacks(cloud_assembly: Path) -> dict[str, dict[str, Any]]:
    """Stack name -> template, from the cloud assembly's manifest (sorted by name)."""
    manifest = json.loads((cloud_assembly / "manifest.json").read_text(encoding="utf-8"))
    stacks: dict[str, dict[str, Any]] = {}
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact["properties"]["templateFile"]
        stacks[name] = {
            "path": cloud_assembly / template_file,
            "environment": artifact.get("environment", ""),
            "template": json.loads((cloud_assembly / template_file).read_text(encoding="utf-8")),
        }
    return stacks


def summarize(cloud_assembly: Path, environment: str) -> str:
    stacks = read_stacks(cloud_assembly)
    if not stacks:
        return f"No stacks found in {cloud_assembly}: did the synth run?"
    warehouse = f"{stack_prefix_of(environment)}Warehouse"
    if warehouse not in stacks:
        raise ConfigError(f"{cloud_assembly}: holds the stacks {', '.join(stacks)}, not environment '{environment}' "
                          f"(no {warehouse}); run `make synth ENV={environment}`, or ask for the environment it "
                          "holds")
    packs = ["AwsSolutions", "RedshiftServerless"]
    report = cloud_assembly / "validation-report.json"
    if report.is_file() and any(p.get("pluginName", "").startswith("NIST") for p in json.loads(
            report.read_text(encoding="utf-8")).get("pluginReports", [])):
        packs.append("NIST 800-53 R5")
    lines = [f"Synthesized environment '{environment}' into {cloud_assembly}/ (cdk-nag: {', '.join(packs[:-1])} and "
             f"{packs[-1]} packs passed)", ""]
    for name, stack in stacks.items():
        resources = stack["template"].get("Resources", {})
        counts = Counter(r["Type"] for r in resources.values())
        lines.append(f"{name}  ({stack['environment']}, {plural(len(resources), 'resource')})")
        lines.append(f"  template: {stack['path']}")
        width = max(len(t) for t in counts)
        for resource_type, count in sorted(counts.items()):
            lines.append(f"    {resource_type.ljust(width)}  {count}")
        outputs = sorted(stack["template"].get("Outputs", {}))
        if outputs:
            lines.append(f"  outputs: {', '.join(outputs)}")
        lines.append("")
    lines.append("Next:")
    if any(name.endswith("Access") for name in stacks):
        lines.append(f"  make plan ENV={environment}: prints the SQL the access model's first deploy runs, for review")
    if environment == DEMO:
        lines.append("  The demo deploys nowhere: its ids are placeholders. To deploy, copy config/demo.yaml to "
                     "config/<name>.yaml, put your account, IdC instance and groups in it, then "
                     "`make synth ENV=<name>` and `make deploy ENV=<name>`.")
    else:
        lines += [f"  make bootstrap ENV={environment}: once per account and region (needs AWS credentials)",
                  f"  make deploy ENV={environment}: deploys exactly this (needs AWS credentials for that account); "
                  f"OUTPUTS=cdk-outputs.json also writes the stacks' outputs"]
    lines.append("  make test: runs the whole test suite")
    return "\n".join(lines)
