"""Every message for a bad config or access model file is in YAML's words, names the file, the field (or the
line and column) and a fix.

A corpus of bad inputs, each written into a copy of the project (`project.ROOT` points at it), goes through
`python -m redshift_idc validate` in-process, the loaders every command and synth use. No message may carry
pydantic's or PyYAML's vocabulary (`Input should be`, `String should have`, `tuple`, `expected <block end>`),
Python's names for values (`True`, `NoneType`, `(got: ...)`) or an absolute path.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from redshift_idc import project
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cli.main import main as cli
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.error_wording import PATTERN_WORDS, problem
from redshift_idc.config.errors import format_validation_error
from redshift_idc.config.pipeline import PipelineConfig

ROOT = Path(__file__).resolve().parents[1]
C = "config/demo.yaml"
A = "access/demo.yaml"
Edit = Callable[[Path], None]

# Library and Python vocabulary a YAML author never wrote.
BANNED = ("Input should be", "String should have", "(got: ", "expected <block end>", "NoneType", "tuple",
          "should be a valid", "should have at", "instance of", "Value error", "<scalar>", "<block", "Traceback")
PYTHON_VALUES = re.compile(r"\b(True|False)\b")
ABSOLUTE_PATH = re.compile(r"(?:^|[\s(\['\"=])/[\w.-]+/")
# What a fix looks like: an example, the values allowed, or what to do.
FIX = re.compile(r"e\.g\.|did you mean|allowed keys here|one of|\b(quote|write|add|remove|replace|close|shorten|"
                 r"keep|indent|put|use|save|extend|copy|give|lower|raise|choose|set|fix|declare|list)\b")


def sub(name: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / name
        content = path.read_text(encoding="utf-8")
        assert content.count(old) == 1, f"{name} holds {old!r} {content.count(old)} times"
        path.write_text(content.replace(old, new), encoding="utf-8")
    return edit


def append(name: str, extra: str) -> Edit:
    def edit(root: Path) -> None:
        with (root / name).open("a", encoding="utf-8") as handle:
            handle.write(extra)
    return edit


def both(*edits: Edit) -> Edit:
    def edit(root: Path) -> None:
        for one in edits:
            one(root)
    return edit


def replace_file(name: str, content: str) -> Edit:
    def edit(root: Path) -> None:
        (root / name).write_text(content, encoding="utf-8")
    return edit


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file the message must name first
    edit: Edit
    field: str = ""  # a problem with a value: the field path the problem line starts with
    line_of: str = ""  # a YAML syntax error: text of the line the message locates (`file:line:column`)
    says: str = ""  # a fragment of the expected wording


ISSUER = "  identity_store_id: d-0000000000"
RPU = "  base_capacity_rpu: 8"
NAMESPACE = "  namespace_name: redshift-tip-enabled-namespace"
WORKGROUP = "  workgroup_name: redshift-tip-enabled"
ZONES = "availability_zones: [us-east-1a, us-east-1b, us-east-1c]"
ASSIGNMENT = "  assignment_required: false"
PROJECT_TAG = "  project: redshift-idc"
IDENTITY_CENTER = ("identity_center:\n  instance_arn: arn:aws:sso:::instance/ssoins-0000000000000000\n"
                   "  identity_store_id: d-0000000000\n")
GRANT = "    privileges: [USAGE]\n    to: [awssso-sales]"
POLICY = "    - name: eu_region_filter"
EXPECT = "  - {persona: Ethan, table: public.sales_data, rows: 5}"
GROUPS = "  idc_groups: [amer-sales, emea-sales, apac-sales, exec-global, awssso-sales, awssso-finance]"
EXISTING_NETWORK = ("  mode: existing\n  vpc_id: vpc-0123456789abcdef0\n  subnet_ids: [subnet-0123456789abcdef0, "
                    "subnet-0123456789abcdef1, subnet-0123456789abcdef2, subnet-0123456789abcdef3]")

CASES = [
    # --- config: text fields
    Case("number for text", C, sub(C, NAMESPACE, "  namespace_name: 12345"), "warehouse.namespace_name",
         says='quote it as written, e.g. namespace_name: "12345"'),
    Case("boolean for text", C, sub(C, NAMESPACE, "  namespace_name: true"), "warehouse.namespace_name",
         says="YAML read true as a boolean"),
    Case("list for text", C, sub(C, NAMESPACE, "  namespace_name: [a-b-c, d-e-f]"), "warehouse.namespace_name",
         says="not a list: write a single value, e.g. namespace_name: a-b-c"),
    Case("mapping for text", C, sub(C, PROJECT_TAG, "  project:\n    nested: value"), "tags.project",
         says="not a mapping"),
    Case("null for text", C, sub(C, PROJECT_TAG, "  project:"), "tags.project",
         says="empty (YAML reads nothing after 'project:' as null)"),
    Case("number for a tag", C, sub(C, PROJECT_TAG, "  project: 12"), "tags.project", says='e.g. project: "12"'),
    Case("text too long", C, sub(C, "  display_name: redshift-data-api-demo-app", f"  display_name: {'a' * 130}"),
         "redshift_idc_application.display_name", says="too long: 130 characters, at most 127: shorten it"),
    Case("mapping key not of its form", C, sub(C, PROJECT_TAG, PROJECT_TAG + "\n  cost#centre: analytics"),
         "tags.cost#centre (the key)", says="(an AWS tag key), e.g. owner (found: 'cost#centre')"),
    Case("text not of its form", C, sub(C, "region: us-east-1", "region: us_east_1"), "region",
         says="expected an AWS region name, e.g. us-east-1"),
    # --- config: numbers
    Case("text for a number", C, sub(C, RPU, "  base_capacity_rpu: eight"), "warehouse.base_capacity_rpu",
         says="expected a whole number written in digits, without quotes, e.g. base_capacity_rpu: 8 (found: 'eight')"),
    Case("fraction for a whole number", C, sub(C, RPU, "  base_capacity_rpu: 8.5"), "warehouse.base_capacity_rpu",
         says="expected a whole number, e.g. base_capacity_rpu: 8 (found: 8.5)"),
    Case("boolean for a number", C, sub(C, "  log_retention_days: 365", "  log_retention_days: true"),
         "warehouse.log_retention_days", says="(found: true)"),
    Case("list for a number", C, sub(C, RPU, "  base_capacity_rpu: [8]"), "warehouse.base_capacity_rpu",
         says="not a list"),
    Case("null for a number", C, sub(C, "  session_seconds: 3600", "  session_seconds:"),
         "identity_propagation.session_seconds", says="write a value (a whole number), or remove the key"),
    Case("number too large", C, sub(C, "  session_seconds: 3600", "  session_seconds: 99999"),
         "identity_propagation.session_seconds", says="too large: the most allowed is 3600"),
    Case("number too small", C, sub(C, "  session_seconds: 3600", "  session_seconds: 60"),
         "identity_propagation.session_seconds", says="too small: the least allowed is 900"),
    # --- config: booleans
    Case("text for a boolean", C, sub(C, ASSIGNMENT, "  assignment_required: maybe"),
         "identity_propagation.assignment_required", says="expected true or false, without quotes"),
    Case("number for a boolean", C, sub(C, ASSIGNMENT, "  assignment_required: 2"),
         "identity_propagation.assignment_required", says="(found: 2)"),
    Case("null for a boolean", C, sub(C, ASSIGNMENT, "  assignment_required:"),
         "identity_propagation.assignment_required", says="write a value (true or false)"),
    # --- config: mappings and lists
    Case("null for a mapping", C, sub(C, IDENTITY_CENTER, "identity_center:\n"), "identity_center",
         says="empty: expected a mapping with the keys instance_arn, identity_store_id: write them"),
    Case("text for a mapping", C, sub(C, IDENTITY_CENTER, "identity_center: my-instance\n"), "identity_center",
         says="not the text 'my-instance'"),
    Case("list for a mapping", C, sub(C, IDENTITY_CENTER, "identity_center: [a, b]\n"), "identity_center",
         says="not a list: write key: value lines"),
    Case("text for a mapping of tags", C, sub(C, "tags:\n  project: redshift-idc\n  environment: demo",
                                              "tags: hello"), "tags", says="expected a mapping of key: value pairs"),
    Case("text for a list", C, sub(C, ZONES, "availability_zones: us-east-1a"), "availability_zones",
         says="expected a list, e.g. [us-east-1a]"),
    Case("mapping for a list", C, sub(C, ZONES, "availability_zones: {a: us-east-1a}"), "availability_zones",
         says="expected a list, not a mapping"),
    Case("null for a list", C, sub(C, ZONES, "availability_zones:"), "availability_zones", says="empty"),
    Case("too many items", C, both(sub(C, "  cidr: 10.40.0.0/16\n", ""), sub(C, "  mode: create", EXISTING_NETWORK)),
         "network.subnet_ids", says="holds at most 3 items, has 4: remove 1"),
    Case("empty list", C, sub(C, "  audiences: [demo-client-id-placeholder]", "  audiences: []"),
         "identity_propagation.audiences", says="at least one audience"),
    Case("missing key", C, sub(C, ISSUER + "\n", ""), "identity_center.identity_store_id",
         says="required, but not set: add it (text); d- followed by ten characters, e.g. d-1234567890"),
    Case("unknown key", C, sub(C, RPU, "  base_capacity_rpus: 8"), "warehouse.base_capacity_rpus",
         says="did you mean 'base_capacity_rpu'?"),
    Case("unknown top-level key", C, append(C, "colour: red\n"), "colour", says="allowed keys here: access_model"),
    Case("not one of the choices", C, sub(C, "  mode: create", "  mode: creat"), "network.mode",
         says="'creat' is not one of create, existing; did you mean 'create'?"),
    Case("unknown key in an optional section", C, append(C, "query_editor_v2:\n  permission_set_name: qev2\n  groups: "
                                                "[{display_name: amer-sales}]\n  idc_application: {name: q, "
                                                "display_name: q, colour: 1}\n"),
         "query_editor_v2.idc_application.colour", says="allowed keys here: display_name, name"),
    Case("name key", C, append(C, "name: demo\n"), "name", says="remove it"),
    # --- config: ids YAML reads as numbers
    Case("identity store id as a number", C, sub(C, ISSUER, "  identity_store_id: 0000000000"),
         "identity_center.identity_store_id", says="d- followed by ten characters, e.g. d-1234567890"),
    Case("identity store id of another form", C, sub(C, ISSUER, "  identity_store_id: x-0000000000"),
         "identity_center.identity_store_id", says="d- followed by ten characters, e.g. d-1234567890"),
    Case("short account as a number", C, sub(C, 'account: "111111111111"', "account: 1234"), "account",
         says='quote the account as written, e.g. account: "012345678901"'),
    Case("group id as a number", C, sub(C, "    - display_name: amer-sales", "    - display_name: amer-sales\n"
                                                                          "      group_id: 12345"),
         "redshift_idc_application.groups[0].group_id", says="as the number 12345"),
    # --- config: files it names
    Case("missing SAML metadata", C, append(C, "iam_federation:\n  provider:\n    type: saml\n"
                                               "    metadata_document_file: missing.xml\n"),
         "iam_federation.provider.metadata_document_file", says="no such file config/missing.xml"),
    Case("extends a missing base", C, sub(C, 'account: "111111111111"', 'extends: _gone\naccount: "111111111111"'),
         says="extends: no such file config/_gone.yaml"),
    Case("extends a list", C, sub(C, 'account: "111111111111"', 'extends: [_shared]\naccount: "111111111111"'),
         says="expected the name of another file in config, without '.yaml'"),
    Case("extends nothing", C, sub(C, 'account: "111111111111"', 'extends:\naccount: "111111111111"'),
         says="(found: null)"),
    Case("extends itself", C, sub(C, 'account: "111111111111"', 'extends: demo\naccount: "111111111111"'),
         says="cycle config/demo.yaml -> config/demo.yaml"),
    # --- config: the top level
    Case("top-level text", C, replace_file(C, "just some text\n"), says="not the text 'just some text'"),
    Case("top-level list", C, replace_file(C, "- account: '111111111111'\n"), says="not a list"),
    Case("top-level number", C, replace_file(C, "42\n"), says="not the number 42"),
    # --- config: YAML syntax
    Case("line indented more", C, sub(C, WORKGROUP, "    workgroup_name: redshift-tip-enabled"),
         line_of="    workgroup_name", says="does not match line"),
    Case("line indented less", C, sub(C, WORKGROUP, " workgroup_name: redshift-tip-enabled"),
         line_of=" workgroup_name", says="the indentation of line"),
    Case("tab", C, sub(C, WORKGROUP, "\tworkgroup_name: redshift-tip-enabled"), line_of="\tworkgroup_name",
         says="replace the tab with spaces"),
    Case("quote left open", C, sub(C, 'account: "111111111111"', 'account: "111111111111'),
         line_of="  identity_namespace: AWSIDC", says="the quote opened at line 4, column 10 closes only at line"),
    Case("quote open at the end", C, append(C, 'owner: "data team\n'), line_of='owner: "data team',
         says="is never closed"),
    Case("bracket left open", C, sub(C, ZONES, "availability_zones: [us-east-1a, us-east-1b, us-east-1c"),
         line_of="identity_center:", says="the '[' opened at line"),
    Case("brace left open", C, append(C, "extra: {a: 1\nmore: 2\n"), line_of="more: 2",
         says="the '{' opened at line"),
    Case("bracket closing nothing", C, sub(C, ZONES, ZONES + "]"), line_of=ZONES, says="closes nothing"),
    Case("duplicate key", C, sub(C, "region: us-east-1", "region: us-east-1\nregion: us-east-2"),
         line_of="region: us-east-2", says="the key 'region' is given twice in one mapping"),
    Case("colon in a value", C, sub(C, NAMESPACE, "  namespace_name: a: b"), line_of="  namespace_name: a: b",
         says="quote the value"),
    Case("text without a colon", C, sub(C, WORKGROUP, "  workgroup_name redshift-tip-enabled\n  other: 1"),
         line_of="  workgroup_name redshift", says="neither `key: value` nor a '- ' list item"),
    Case("list item among keys", C, sub(C, WORKGROUP, "  - workgroup_name: redshift-tip-enabled"),
         line_of="  - workgroup_name", says="a '- ' list item among the keys"),
    Case("text after a closing quote", C, sub(C, 'account: "111111111111"', 'account: "111111111111" more'),
         line_of='account: "111111111111" more', says="put the whole value inside the quotes"),
    Case("value starting with @", C, sub(C, PROJECT_TAG, "  project: @data"), line_of="  project: @data",
         says='quote it, e.g. "@data"'),
    Case("second document", C, append(C, "---\nmore: 1\n"), line_of="---", says="remove the '---' line"),
    # --- access model: text, numbers, booleans
    Case("access: number for text", A, sub(A, POLICY, "    - name: 12"), "rls.policies[0].name",
         says='e.g. name: "12"'),
    Case("access: null for text", A, sub(A, POLICY, "    - name:"), "rls.policies[0].name", says="empty"),
    Case("access: text too long", A, sub(A, POLICY, f"    - name: {'x' * 130}"), "rls.policies[0].name",
         says="too long: 130 characters, at most 127: shorten it"),
    Case("access: text too short", A, sub(A, 'reason: "seed 002\'s policies match America, Europe and Asia only: the '
                                             'Sydney row is for executives"', 'reason: "ab"'),
         "allow_warnings[0].reason", says="too short: write at least 3 characters (found: 'ab')"),
    Case("access: text for a number", A, sub(A, EXPECT, EXPECT.replace("rows: 5", "rows: five")), "expect[0].rows",
         says="expected a whole number written in digits"),
    Case("access: negative count", A, sub(A, EXPECT, EXPECT.replace("rows: 5", "rows: -1")), "expect[0].rows",
         says="too small: the least allowed is 0"),
    Case("access: text for a boolean", A, append(A, "prune: maybe\n"), "prune", says="expected true or false"),
    Case("access: null for a boolean", A, append(A, "prune:\n"), "prune", says="write a value (true or false)"),
    # --- access model: lists, mappings, choices
    Case("access: text for a list", A, sub(A, GRANT, "    privileges: USAGE\n    to: [awssso-sales]"),
         "schema_grants[0].privileges", says="expected a list, e.g. [USAGE]"),
    Case("access: empty list", A, sub(A, GRANT, "    privileges: []\n    to: [awssso-sales]"),
         "schema_grants[0].privileges", says="needs at least 1 item, has none: add 1"),
    Case("access: boolean in a list of choices", A, sub(A, GRANT, "    privileges: [true]\n    to: [awssso-sales]"),
         "schema_grants[0].privileges[0]", says="true is not one of USAGE, CREATE, ALTER, DROP"),
    Case("access: text for a list of groups", A, sub(A, GROUPS, "  idc_groups: amer-sales"), "roles.idc_groups",
         says="expected a list, e.g. [amer-sales]"),
    Case("access: null for a mapping", A, sub(A, "roles:\n" + GROUPS, "roles:"), "roles",
         says="empty: expected a mapping with the keys idc_groups, plain"),
    Case("access: list for a mapping", A, sub(A, "roles:\n" + GROUPS, "roles: [amer-sales]"), "roles",
         says="not a list"),
    Case("access: mapping for a list", A, append(A, "schemas: {a: 1}\n"), "schemas", says="not a mapping"),
    Case("access: null for a list", A, append(A, "lift_undeclared_restrictions:\n"),
         "lift_undeclared_restrictions", says="empty"),
    Case("access: choice in another case", A, append(A, "removal_policy: Destroy\n"), "removal_policy",
         says="did you mean 'destroy'?"),
    Case("access: unknown key", A, sub(A, "scripts:", "scriptz:"), "scriptz", says="did you mean 'scripts'?"),
    Case("access: unknown nested key", A, sub(A, GRANT, "    privilegs: [USAGE]\n    to: [awssso-sales]"),
         "schema_grants[0].privilegs", says="did you mean 'privileges'?"),
    Case("access: top-level list", A, replace_file(A, "[]\n"), says="not a list"),
    Case("access: top-level text", A, replace_file(A, "hello\n"), says="not the text 'hello'"),
    # --- access model: YAML syntax
    Case("access: line indented unlike its list", A,
         sub(A, "  - schema: finance_schema", "   - schema: finance_schema"),
         line_of="   - schema: finance_schema", says="the indentation of line"),
    Case("access: tab", A, sub(A, "  - schema: finance_schema", "\t- schema: finance_schema"),
         line_of="\t- schema: finance_schema", says="replace the tab with spaces"),
    Case("access: duplicate key", A, append(A, "prune: true\nprune: false\n"), line_of="prune: false",
         says="the key 'prune' is given twice"),
    Case("access: bracket left open", A, append(A, "schemas: [a, b\n"), line_of="schemas: [a, b",
         says="is not closed"),
]


def _validate() -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli(["validate", "--env", "demo"])
    return code, err.getvalue().strip()


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def test_the_corpus_covers_both_files_and_yaml_syntax() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.file == C for case in CASES) >= 40 and sum(case.file == A for case in CASES) >= 20
    assert sum(bool(case.line_of) for case in CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_message_is_in_yaml_words_and_names_the_file_the_field_and_a_fix(copy: Path, case: Case) -> None:
    case.edit(copy)
    code, message = _validate()
    assert code == 2, message
    for fragment in BANNED:
        assert fragment.lower() not in message.lower(), f"{fragment!r} in:\n{message}"
    assert not PYTHON_VALUES.search(message), message
    assert str(copy) not in message and str(ROOT) not in message, message
    assert not ABSOLUTE_PATH.search(message), message
    assert message.startswith(f"{case.file}:"), message  # the file first, relative to the project
    if case.line_of:
        lines = (copy / case.file).read_text(encoding="utf-8").splitlines()
        located = next(number for number, text in enumerate(lines, 1) if text.startswith(case.line_of))
        assert message.startswith(f"{case.file}:{located}:"), message
        assert "not valid YAML: " in message, message
    problems = message.splitlines()[1:] or [message]
    if case.field:
        assert any(p.startswith(f"  {case.field}: ") or f": {case.field}: " in p for p in problems), message
    for line in problems:
        assert FIX.search(line), f"no fix in {line!r}"
    assert case.says in message, message


def test_a_problem_set_by_a_base_names_the_base_relative_to_the_project(copy: Path) -> None:
    (copy / "config" / "_base.yaml").write_text("warehouse:\n  port: eighty\n", encoding="utf-8")
    sub(C, 'account: "111111111111"', 'extends: _base\naccount: "111111111111"')(copy)
    code, message = _validate()
    assert code == 2
    assert message.splitlines() == [
        "config/demo.yaml: invalid configuration (1 problem; merged over config/_base.yaml):",
        "  warehouse.port: expected a whole number written in digits, without quotes, e.g. port: 5439 "
        "(found: 'eighty') [set in config/_base.yaml]"]


class _Unlisted(BaseModel):
    """A model whose validator raises an error type the wording table does not know."""

    count: int

    @field_validator("count")
    @classmethod
    def _odd(cls, value: int) -> int:
        raise PydanticCustomError("some_future_type", "Input should be something pydantic says")


def test_an_error_type_without_a_wording_still_names_the_yaml_type_expected() -> None:
    with pytest.raises(ValidationError) as raised:
        _Unlisted.model_validate({"count": 5})
    message = format_validation_error(Path("config/x.yaml"), raised.value, _Unlisted)
    assert message.splitlines()[1] == "  count: not accepted here: write a whole number instead (found: 5)"


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(({value} if key == "pattern" and isinstance(value, str) else _patterns(value))
                             for key, value in node.items()))
    if isinstance(node, list):
        return set().union(*map(_patterns, node))
    return set()


@pytest.mark.parametrize("model", [EnvironmentConfig, PipelineConfig, AccessModel])
def test_every_pattern_of_the_schemas_is_told_in_words(model: type[BaseModel]) -> None:
    """A pattern without words would reach the author as a regular expression."""
    for pattern in _patterns(model.model_json_schema()):
        words = problem({"type": "string_pattern_mismatch", "loc": ("x",), "msg": "", "input": "?",
                         "ctx": {"pattern": pattern}}, model)
        assert pattern not in words and (pattern in PATTERN_WORDS or "IAM-style name" in words), (pattern, words)
