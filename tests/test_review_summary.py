"""The pull request summary (`python -m redshift_idc review`): two known changes synthesized for real
(an access model that adds a role, a warehouse with another base RPU) against the demo, and the
rendering rules on small hand-written assemblies.

Three synths in this module (base, added role, changed RPU), each once, in-process as the tests' other
synths are; everything else reads or writes JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access import checked
from redshift_idc.access.model import ACCESS_DIR, load_model, load_scripts
from redshift_idc.cdk import app as app_builder
from redshift_idc.cdk import app_start
from redshift_idc.cli.main import main
from redshift_idc.config.environment import EnvironmentConfig, load_environment, parse_environment
from redshift_idc.config.yaml_files import CONFIG_DIR, read_yaml
from redshift_idc.review.plan_text import render_for_review
from redshift_idc.review.summary import render, review
from redshift_idc.runtime.access_state import AccessState, Role, SchemaPrivilege
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.reconcile_handler import model_document

NOTE = ("both synthesized offline, no AWS credentials. Asset hashes and `AWS::CDK::Metadata` are left out; "
        "IAM documents are shown in full.")

@dataclass(frozen=True)
class Assemblies:
    base: Path
    added_role: Path
    changed_rpu: Path
    access_dir: Path  # the added-role model


def _synth(config: EnvironmentConfig, outdir: Path) -> Path:
    app = app_start.new_app(outdir=str(outdir))
    app_builder.add_environment(app, config)
    app.synth()
    return outdir


def _model_with_added_role(access_dir: Path) -> None:
    """The change under review in case 1: the demo model plus one plain role, with USAGE on a schema the
    demo's scripts create."""
    data = read_yaml(ACCESS_DIR / "demo.yaml")
    data["roles"]["plain"] = ["auditor"]
    data["schema_grants"].insert(0, {"schema": "finance_schema", "privileges": ["USAGE"], "to": ["auditor"]})
    access_dir.mkdir(parents=True, exist_ok=True)
    (access_dir / "demo.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> Assemblies:
    root = tmp_path_factory.mktemp("review")
    demo = load_environment("demo")
    base = _synth(demo, root / "base")
    access_dir = root / "access"
    _model_with_added_role(access_dir)
    # Synth loads `access/<model>.yaml` from the project (access.checked.model_for); this one reads the variant.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checked, "load_model", partial(load_model, access_dir=access_dir))
        added_role = _synth(demo, root / "added-role")
    data = read_yaml(CONFIG_DIR / "demo.yaml")
    data["warehouse"]["base_capacity_rpu"] = 16
    changed_rpu = _synth(parse_environment(data, name="demo", source=CONFIG_DIR / "demo.yaml"), root / "rpu")
    return Assemblies(base, added_role, changed_rpu, access_dir)


def _first_deploy(access_dir: Path = ACCESS_DIR) -> str:
    """What `make plan` prints for the demo environment with the model in `access_dir`."""
    compiled = load_model("demo", load_environment("demo"), access_dir=access_dir)
    model, desired = compiled.model, compiled.desired
    return render_for_review(plan(desired, AccessState(case_sensitive=desired.case_sensitive), {}),
                             load_scripts(model))


def _details(text: str) -> str:
    match = re.search(r"<details><summary>From an empty warehouse \(first deploy\): (\d+) statements and 2 scripts"
                      r"</summary>\n\n```sql\n(.*?)\n```\n\n</details>\n", text, re.S)
    assert match, text
    return match.group(2) + "\n"


def _workgroup_id(assembly: Path) -> str:
    template: dict[str, Any] = json.loads((assembly / "DemoWarehouse.template.json").read_text())
    found = [str(k) for k, v in template["Resources"].items() if v["Type"] == "AWS::RedshiftServerless::Workgroup"]
    assert len(found) == 1
    return found[0]


# ------------------------------------------------------------------------------------ the two cases


def test_added_role_is_the_access_model_sql_and_no_template_change(assemblies: Assemblies) -> None:
    text = review(assemblies.base, assemblies.added_role, "demo")
    head, _, _ = text.partition("<details>")
    assert head == f"""\
## Infrastructure and access review

**0 resources added, 0 modified, 0 removed; access model: 2 statements**

Base `{assemblies.base}`, head `{assemblies.added_role}`: {NOTE}

### Environment `demo`

#### Stack `DemoAccess`

Assets with new content (hashes not shown): `AccessModel/Model`

Unchanged stacks: `DemoIdentity`, `DemoWarehouse`

#### Access model `demo` (`DemoAccess`)

A deploy of this change runs 2 statements on a warehouse that matches the base branch:

```sql
-- create roles
CREATE ROLE "auditor";
-- grant schema privileges
GRANT USAGE ON SCHEMA "finance_schema" TO ROLE "auditor";
```

Transition check: no intermediate state widens access (1 batch, 16 principals checked)

**Who sees what** (both branches' rules on the head's personas and sample rows, offline):

No change: the 5 persona(s) see the same rows and columns of the 3 table(s).

"""
    # The first deploy of the new model is exactly what `make plan` prints for it.
    assert _details(text) == _first_deploy(assemblies.access_dir)
    assert 'CREATE ROLE "auditor";' in _details(text)


def test_changed_base_rpu_shows_the_workgroup_before_and_after(assemblies: Assemblies) -> None:
    text = review(assemblies.base, assemblies.changed_rpu, "demo")
    head, _, _ = text.partition("<details>")
    assert head == f"""\
## Infrastructure and access review

**0 resources added, 1 modified, 0 removed; access model: 0 statements**

Base `{assemblies.base}`, head `{assemblies.changed_rpu}`: {NOTE}

### Environment `demo`

#### Stack `DemoWarehouse`

**Modified** (1)

- `{_workgroup_id(assemblies.base)}` (`AWS::RedshiftServerless::Workgroup`): `BaseCapacity` `8` → `16`

Unchanged stacks: `DemoAccess`, `DemoIdentity`

#### Access model `demo` (`DemoAccess`)

No SQL: a warehouse that matches the base branch already matches this model.

"""
    assert _details(text) == _first_deploy()


def test_the_same_assembly_twice_changes_nothing(assemblies: Assemblies) -> None:
    text = review(assemblies.base, assemblies.base, "demo")
    assert "**0 resources added, 0 modified, 0 removed; access model: 0 statements**" in text
    assert "No template changes.\n\nUnchanged stacks: `DemoAccess`, `DemoIdentity`, `DemoWarehouse`\n" in text


def test_directories_of_environments_add_remove_and_filter(assemblies: Assemblies, tmp_path: Path) -> None:
    """`make synth-all` writes cdk.out/<env>/: environments are paired by name; a new one is all added."""
    base_root, head_root = tmp_path / "cdk.out-base", tmp_path / "cdk.out"
    base_root.mkdir()
    head_root.mkdir()
    (base_root / "demo").symlink_to(assemblies.base)
    (base_root / "old").symlink_to(assemblies.base)
    (head_root / "demo").symlink_to(assemblies.changed_rpu)
    (head_root / "new").symlink_to(assemblies.added_role)
    resources = sum(
        sum(r["Type"] != "AWS::CDK::Metadata" for r in json.loads(p.read_text())["Resources"].values())
        for p in assemblies.added_role.glob("*.template.json"))
    text = review(base_root, head_root)
    assert text.count("\n### Environment ") == 3
    assert (f"**{resources} resources added, 1 modified, {resources} removed; access model: 46 statements, "
            "2 scripts; stacks: 3 added, 3 removed**") in text  # 24 to create `new`, 22 to empty `old`
    assert "### Environment `new` (new)" in text and "#### Stack `DemoWarehouse` (new)" in text
    assert "### Environment `old` (removed)" in text and "#### Stack `DemoWarehouse` (removed)" in text
    assert "Its first deploy runs 24 statements and 2 scripts:" in text
    assert "Note: deleting the custom resource removes every object in its ledger." in text
    assert text.index("`demo`") < text.index("`new`") < text.index("`old`")
    assert review(base_root, head_root) == text  # deterministic
    assert review(base_root, head_root, "demo") == review(assemblies.base, assemblies.changed_rpu, "demo").replace(
        f"Base `{assemblies.base}`, head `{assemblies.changed_rpu}`", f"Base `{base_root}`, head `{head_root}`")


def test_cli_prints_the_markdown_and_exits_0(assemblies: Assemblies, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["review", "--base", str(assemblies.base), "--head", str(assemblies.changed_rpu), "--env", "demo"])
    assert code == 0
    assert capsys.readouterr().out == review(assemblies.base, assemblies.changed_rpu, "demo")


def test_cli_names_a_missing_assembly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "--base", str(tmp_path / "nope"), "--head", str(tmp_path)]) == 2
    assert f"{tmp_path / 'nope'}: no such directory; synthesize first (make synth-all)" in capsys.readouterr().err


# --------------------------------------------------------------- rendering rules, on small assemblies

HASH_A, HASH_B, MODEL_A, MODEL_B = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
TRUST = {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"}}],
         "Version": "2012-10-17"}


def _write_assembly(root: Path, templates: dict[str, dict[str, Any]], assets: dict[str, dict[str, str]] | None = None,
                    documents: dict[str, str] | None = None) -> Path:
    """A cloud assembly as CDK writes it: manifest, templates, asset manifests (display name -> hash), files."""
    root.mkdir(parents=True)
    artifacts: dict[str, Any] = {}
    for name, template in templates.items():
        (root / f"{name}.template.json").write_text(json.dumps(template))
        files = {h: {"displayName": display, "source": {"path": f"asset.{h}", "packaging": "zip"}}
                 for display, h in (assets or {}).get(name, {}).items()}
        for model_hash in documents or {}:
            files[model_hash] = {"displayName": "AccessModel/Model",
                                 "source": {"path": f"asset.{model_hash}.json", "packaging": "file"}}
        files["t" * 64] = {"source": {"path": f"{name}.template.json", "packaging": "file"}}
        (root / f"{name}.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
        artifacts[f"{name}.assets"] = {"type": "cdk:asset-manifest", "properties": {"file": f"{name}.assets.json"}}
        artifacts[name] = {"type": "aws:cloudformation:stack", "environment": "aws://111111111111/us-east-1",
                           "properties": {"templateFile": f"{name}.template.json"}}
    for model_hash, document in (documents or {}).items():
        (root / f"asset.{model_hash}.json").write_text(document)
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root


def _function(code_hash: str) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function",
            "Properties": {"Code": {"S3Bucket": "bucket", "S3Key": f"{code_hash}.zip"}, "Runtime": "python3.14"},
            "Metadata": {"aws:cdk:path": "Stack/Fn/Resource", "aws:asset:path": f"asset.{code_hash}"}}


def test_template_changes_iam_in_full_and_noise_left_out(tmp_path: Path) -> None:
    policy = {"Statement": [{"Action": "s3:GetObject", "Effect": "Allow", "Resource": "arn:aws:s3:::b/*"}],
              "Version": "2012-10-17"}
    wider = {**policy, "Statement": [*policy["Statement"],
                                     {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": "arn:aws:kms:k"}]}
    base: dict[str, Any] = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": policy, "Roles": [{"Ref": "Role"}]}},
        "Fn": _function(HASH_A), "Gone": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:one"}},
        "Tagged": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": [{"Key": "k", "Value": "v" * 10}]}},
    }, "Outputs": {"Name": {"Value": "old"}, "Hash": {"Value": HASH_A}}}
    head: dict[str, Any] = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role",
                 "Properties": {"AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": 7200}},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": wider, "Roles": [{"Ref": "Role"}]},
                   "DependsOn": ["Role"]},
        "Fn": _function(HASH_B),
        "NewRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:two"}},
        "Tagged": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": [{"Key": "k", "Value": "w" * 80}]}},
    }, "Outputs": {"Name": {"Value": "new"}, "Hash": {"Value": HASH_B}, "Added": {"Value": {"Ref": "NewRole"}}}}
    before = _write_assembly(tmp_path / "base", {"Stack": base}, {"Stack": {"Fn/Code": HASH_A}})
    after = _write_assembly(tmp_path / "head", {"Stack": head}, {"Stack": {"Fn/Code": HASH_B}})
    text = review(before, after)
    assert text.startswith("## Infrastructure and access review\n\n"
                           "**1 resource added, 3 modified, 1 removed; access model: 0 statements**\n")
    trust = json.dumps(TRUST, indent=2, sort_keys=True)
    assert f"""\
### Environment `default`

#### Stack `Stack`

**Added** (1)

| logical id | type |
|---|---|
| `NewRole` | `AWS::IAM::Role` |

`NewRole` `AssumeRolePolicyDocument`:

```json
{trust}
```

**Removed** (1)

| logical id | type |
|---|---|
| `Gone` | `AWS::SQS::Queue` |

**Modified** (3)

- `Policy` (`AWS::IAM::Policy`): `PolicyDocument` (IAM, below)
- `Role` (`AWS::IAM::Role`): `MaxSessionDuration` `(absent)` → `7200`
- `Tagged` (`AWS::SNS::Topic`): `Tags` (below)

`Policy` `PolicyDocument` before:

```json
{json.dumps(policy, indent=2, sort_keys=True)}
```

after:

```json
{json.dumps(wider, indent=2, sort_keys=True)}
```

<details><summary>Tagged Tags: before and after</summary>

```json
{json.dumps(base["Resources"]["Tagged"]["Properties"]["Tags"], indent=2)}
```

```json
{json.dumps(head["Resources"]["Tagged"]["Properties"]["Tags"], indent=2)}
```

</details>

**Outputs** (2)

- `Added` `(absent)` → `{{"Value":{{"Ref":"NewRole"}}}}`
- `Name` `{{"Value":"old"}}` → `{{"Value":"new"}}`

Assets with new content (hashes not shown): `Fn/Code`
""" in text
    # Asset hashes (Lambda S3Key, an output carrying a hash), CDK metadata and DependsOn are not changes.
    assert "`Fn`" not in text and "CDKMetadata" not in text and "`Hash`" not in text and "DependsOn" not in text
    assert review(before, after) == text


def _model(*items: Any, prune: bool = False, removal: str = "destroy") -> tuple[dict[str, Any], str]:
    desired = AccessState.of(items)
    document = model_document(desired, [{"Name": "demo/001.sql", "Sql": "CREATE SCHEMA s;", "Checksum": "1" * 64}])
    resource = {"Type": "Custom::AccessModel", "Properties": {
        "ModelName": "m", "WorkgroupName": "wg", "Database": "dev", "Prune": prune, "RemovalPolicy": removal,
        "CaseSensitive": False, "ModelKey": "<hash>.json", "ModelHash": "<hash>"}}
    return resource, document


def _access_assembly(root: Path, model_hash: str, *items: Any, removal: str = "destroy") -> Path:
    resource, document = _model(*items, removal=removal)
    resource["Properties"]["ModelKey"] = f"{model_hash}.json"
    resource["Properties"]["ModelHash"] = model_hash
    return _write_assembly(root, {"Access": {"Resources": {"Model": resource}}}, documents={model_hash: document})


def test_access_model_plan_treats_every_base_object_as_managed(tmp_path: Path) -> None:
    """A role the base had and the head drops is revoked and dropped: the base's objects are in the ledger."""
    base = _access_assembly(tmp_path / "base", MODEL_A, Role("keep"), Role("old"),
                            SchemaPrivilege("s", "USAGE", "old"))
    head = _access_assembly(tmp_path / "head", MODEL_B, Role("keep"), Role("new"))
    text = review(base, head)
    assert "**0 resources added, 0 modified, 0 removed; access model: 3 statements**" in text
    assert """\
A deploy of this change runs 3 statements on a warehouse that matches the base branch:

```sql
-- revoke schema grants
REVOKE USAGE ON SCHEMA "s" FROM ROLE "old";
-- create roles
CREATE ROLE "new";
-- drop roles
DROP ROLE "old" FORCE;
```
""" in text
    assert "Assets with new content (hashes not shown): `AccessModel/Model`" in text
    assert "ModelHash" not in text and "ModelKey" not in text


@pytest.mark.parametrize(("removal", "expected"), [
    ("destroy", "Removing it runs 2 statements:"),
    ("retain", "Note: removal_policy: retain: deleting the custom resource leaves roles, grants and policies in "
               "place.\n\nRemoving it runs 0 statements."),
])
def test_a_removed_access_model_follows_its_removal_policy(tmp_path: Path, removal: str, expected: str) -> None:
    base = _access_assembly(tmp_path / "base", MODEL_A, Role("r"), SchemaPrivilege("s", "USAGE", "r"),
                            removal=removal)
    head = _write_assembly(tmp_path / "head", {"Other": {"Resources": {}}})
    text = review(base, head)
    assert "#### Access model `m` (`Access`) (removed)" in text
    assert expected in text
    assert "#### Stack `Access` (removed)" in text and "#### Stack `Other` (new)" in text


def test_a_long_summary_is_shortened_to_fit_a_comment(assemblies: Assemblies, tmp_path: Path) -> None:
    from redshift_idc.review.summary import diff_directories

    environments = diff_directories(assemblies.base, assemblies.added_role, "demo")
    full = render(environments, assemblies.base, assemblies.added_role, limit=0)
    shorter = render(environments, assemblies.base, assemblies.added_role, limit=len(full) - 1)
    assert "From an empty warehouse" not in shorter and "`make plan ENV=<name>` prints it" in shorter
    assert 'CREATE ROLE "auditor";' in shorter
    cut = render(environments, assemblies.base, assemblies.added_role, limit=700)
    assert len(cut) <= 700 and cut.endswith("the cloud assemblies in the build artifacts hold the rest.\n")
    assert sum(line.startswith("```") for line in cut.splitlines()) % 2 == 0


def test_who_sees_what_compares_both_branches_rules_on_the_heads_sample_rows(assemblies: Assemblies,
                                                                             tmp_path: Path) -> None:
    """The head widens the APAC policy to the Sydney row: Ming sees 2 rows instead of 1, nobody else changes,
    and the 'unseen-rows' warning of the base is gone (no new warning)."""
    import shutil

    head = tmp_path / "head"
    shutil.copytree(assemblies.base, head)
    assert (head / "DemoAccess.preview.json").is_file()
    document_path = next(p for p in head.glob("asset.*.json") if '"desired"' in p.read_text())
    document = json.loads(document_path.read_text())
    for item in document["desired"]["objects"]:
        if item["kind"] == "rls_policy" and item["name"] == "apac_region_filter":
            item["using"] = "timezone LIKE 'Asia%' OR timezone LIKE 'Australia%'"
    document_path.write_text(json.dumps(document))
    text = review(assemblies.base, head, "demo")
    assert """\
**Who sees what** (both branches' rules on the head's personas and sample rows, offline):

| persona | table | access | rows | newly masked | unmasked | columns |
|---|---|---|---|---|---|---|
| Ming | public.sales_data | ok | 1 → 2 of 5 | - | - | - |
""" in text
    assert "New preview warnings" not in text
