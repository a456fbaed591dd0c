"""Roles Redshift creates itself (issue 23, item 3): an IdC sign-in creates its groups' roles when the AWSIDC
provider has AUTO_CREATE_ROLES (AWS page redshift-iam-access-control-sso-autocreate), so a role the plan creates can
appear between the reconciler's read and its batch. The CREATE ROLE then fails with "already exists" and the batch
rolls back; the reconciler reads again (bounded, like a transient error) and the new plan adopts the role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from redshift_idc.access.model import parse_model, prune_scope
from redshift_idc.access.model_file import AccessModel
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import AccessState, IdentityProvider, Role, RoleGrant, SchemaPrivilege
from redshift_idc.runtime.data_api import DataApi, Target, is_role_created_meanwhile
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.scope import Scope, like_matches
from redshift_idc.runtime.reconcile_request import ReconcileError
from redshift_idc.runtime.statement_runner import MAX_TRANSIENT_RETRIES, StatementRunner, StepResult
from tests.fake_redshift import FakeRedshift
from tests.test_reconcile_simulation import MODEL, World

SIGNED_IN = "AWSIDC:sales"


def test_a_role_a_sign_in_creates_between_read_and_batch_is_read_again_and_adopted() -> None:
    world = World()
    world.fake.execute("CREATE IDENTITY PROVIDER \"idc\" TYPE AWSIDC NAMESPACE 'AWSIDC' APPLICATION_ARN "
                       "'arn:aws:sso::123456789012:application/ssoins-1/apl-1' "
                       "IAM_ROLE 'arn:aws:iam::123456789012:role/idc'")
    desired = AccessState.of([Role(SIGNED_IN), Role("analysts")])
    signed_in: list[str] = []

    def sign_in_before_the_batch(operation: str, params: dict[str, Any]) -> None:
        if operation == "BatchExecuteStatement" and any(f'CREATE ROLE "{SIGNED_IN}"' in sql
                                                        for sql in params.get("Sqls", ())):
            world.api.before_call = None
            world.fake.execute(f'CREATE ROLE "{SIGNED_IN}"')  # what Redshift does at the user's sign-in
            signed_in.append(str(params.get("StatementName")))

    world.api.before_call = sign_in_before_the_batch
    run = world.request("Create", desired)
    assert signed_in, "the sign-in never raced a batch"
    assert run.complete, run.error
    assert set(world.fake.state().of_kind(Role.KIND)) == {(SIGNED_IN,), ("analysts",)}
    assert set(world.fake.ledger(MODEL)) == {(Role.KIND, (SIGNED_IN,)), (Role.KIND, ("analysts",))}


def _runner(log: list[str]) -> StatementRunner:
    return StatementRunner(DataApi(Target("wg", "dev", "arn:secret"), object()), "rsidc-test", "rsidc-m",
                           clock=None, invocation_id="i", budget_end=None, deadline=None,  # type: ignore[arg-type]
                           log=log.append)


def test_a_role_that_keeps_appearing_fails_after_the_bounded_retries_naming_the_statement() -> None:
    log: list[str] = []
    runner = _runner(log)
    result = StepResult(False, error='ERROR: role "AWSIDC:sales" already exists', index=2,
                        sql='CREATE ROLE "AWSIDC:sales"')
    for _ in range(MAX_TRANSIENT_RETRIES):
        runner.failed(result, alone=False)
    assert len(log) == MAX_TRANSIENT_RETRIES and "found the role already there" in log[0]
    with pytest.raises(ReconcileError, match=r'statement 2 of batch .* CREATE ROLE "AWSIDC:sales" -- Redshift said: '
                                             r'ERROR: role "AWSIDC:sales" already exists'):
        runner.failed(result, alone=False)


@pytest.mark.parametrize(("sql", "error", "meanwhile"), [
    ('CREATE ROLE "AWSIDC:sales"', 'ERROR: role "AWSIDC:sales" already exists', True),
    ('  create role "x"', 'role "x" already exists (SQLSTATE 42710)', True),
    ('CREATE SCHEMA "x"', 'schema "x" already exists', False),  # another object: a real conflict
    ('CREATE ROLE "x"', 'role name "x" uses a reserved prefix', False),
    ('GRANT ROLE "x" TO ROLE "y"', 'role "x" already exists', False),
])
def test_only_a_create_role_that_found_its_role_is_a_reason_to_read_again(sql: str, error: str,
                                                                            meanwhile: bool) -> None:
    assert is_role_created_meanwhile(sql, error) is meanwhile


# ---------------------------------------------------------------------- prune_ignore_roles


IGNORED = Scope(frozenset(), ignore_roles=("AWSIDC:%",))


def test_prune_leaves_the_roles_prune_ignore_roles_matches_and_what_names_them_and_lists_them() -> None:
    current = AccessState.of([Role("AWSIDC:sales"), Role("AWSIDC:finance"), Role("stale"), Role("analysts"),
                              SchemaPrivilege("public", "USAGE", "AWSIDC:sales"),
                              RoleGrant("analysts", "AWSIDC:finance"), SchemaPrivilege("public", "USAGE", "stale")])
    desired = AccessState.of([Role("analysts")])
    planned = plan(desired, current, {}, prune=True, scope=IGNORED)
    assert planned.sql == ['REVOKE USAGE ON SCHEMA "public" FROM ROLE "stale"', 'DROP ROLE "stale" FORCE']
    assert planned.notes == ["prune leaves 2 role(s) Redshift creates itself, as prune_ignore_roles matches them "
                             "('AWSIDC:%'): AWSIDC:finance, AWSIDC:sales"]
    everything = plan(desired, current, {}, prune=True, scope=Scope())  # without the patterns: all of it goes
    assert {'DROP ROLE "AWSIDC:sales" FORCE', 'DROP ROLE "AWSIDC:finance" FORCE'} <= set(everything.sql)
    assert not any("prune leaves" in note for note in everything.notes)


def test_a_role_the_ledger_says_the_model_made_is_still_removed_when_the_model_drops_it() -> None:
    """The patterns limit prune's reach, not the ledger's: the model's own role goes when the model drops it."""
    current = AccessState.of([Role("AWSIDC:sales")])
    ledger: dict[tuple[str, tuple[str, ...]], str] = {(Role.KIND, ("AWSIDC:sales",)): ""}
    planned = plan(AccessState(), current, ledger, prune=True, scope=IGNORED)
    assert planned.sql == ['DROP ROLE "AWSIDC:sales" FORCE'] and planned.notes == []


@pytest.mark.parametrize(("pattern", "role", "matches"), [
    ("AWSIDC:%", "AWSIDC:sales", True),
    ("AWSIDC:%", "awsidc:sales", False),  # case-sensitive, as LIKE
    ("AWSIDC:team__", "AWSIDC:team42", True),
    ("AWSIDC:team__", "AWSIDC:team4", False),
    ("AWSIDC:a\\_b", "AWSIDC:a_b", True),  # \ makes _ literal
    ("AWSIDC:a\\_b", "AWSIDC:axb", False),
    ("AWSIDC:x.y", "AWSIDC:xzy", False),  # no regular expression
    ("%sales", "AWSIDC:sales", True),
])
def test_the_patterns_match_as_redshifts_like(pattern: str, role: str, matches: bool) -> None:
    assert like_matches(pattern, role) is matches
    reason = Scope(ignore_roles=(pattern,)).ignored_by(role)
    assert (reason == f"prune_ignore_roles matches them ('{pattern}')") is matches and (reason is None) is not matches


def test_the_scope_carries_the_patterns_to_the_lambda_and_a_model_without_them_keeps_its_document() -> None:
    assert Scope.from_json(IGNORED.to_json()) == IGNORED
    assert "ignore_roles" not in Scope(frozenset({("public", "t")})).to_json()


def test_a_pattern_ending_in_the_escape_character_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"prune_ignore_roles\n.*\[0\] 'AWSIDC:x\\' ends with the escape"):
        AccessModel.model_validate({"name": "demo", "prune_ignore_roles": ["AWSIDC:x\\"]})
    assert AccessModel.model_validate({"name": "demo", "prune_ignore_roles": ["AWSIDC:%"]}).prune_ignore_roles == (
        "AWSIDC:%",)


# ---------------------------------------------------------------------- the model's own provider's patterns


IDC_APP = "arn:aws:sso::111111111111:application/ssoins-7223ab12cd34ef56/apl-0123456789abcdef"
IDC_ROLE = "arn:aws:iam::111111111111:role/redshift-idc"


def _model(auto_create_roles: Any, **extra: Any) -> dict[str, Any]:
    return {"prune": True, "roles": {"plain": ["analysts"]}, **extra, "identity_providers": [
        {"name": "corp idc", "type": "awsidc", "namespace": "AWSIDC", "application_arn": IDC_APP,
         "iam_role": IDC_ROLE, "auto_create_roles": auto_create_roles}]}


def _compiled(data: dict[str, Any]) -> tuple[AccessState, Scope]:
    compiled = parse_model(data, name="test", source=Path("access/test.yaml"))
    return compiled.desired, prune_scope(compiled.model)


@pytest.mark.parametrize(("auto", "sql"), [
    ({"include": "sales%"}, "AUTO_CREATE_ROLES TRUE INCLUDE GROUPS LIKE 'sales%'"),
    ({"exclude": "contractors_"}, "AUTO_CREATE_ROLES TRUE EXCLUDE GROUPS LIKE 'contractors_'"),
    (True, "AUTO_CREATE_ROLES TRUE"),
    (False, "AUTO_CREATE_ROLES FALSE"),
])
def test_the_provider_declares_which_groups_get_a_role_at_sign_in(auto: Any, sql: str) -> None:
    desired, _ = _compiled(_model(auto))
    [create] = [s for s in plan(desired, AccessState()).sql if s.startswith("CREATE IDENTITY PROVIDER")]
    assert create.endswith(f"IAM_ROLE '{IDC_ROLE}' {sql}"), create
    fake = FakeRedshift()
    fake.execute(create)
    assert fake.identity_provider("corp idc").auto_create_groups == (
        tuple(part.upper() if i == 0 else part for i, part in enumerate(next(iter(auto.items()))))
        if isinstance(auto, dict) else ())


def test_a_changed_pattern_is_an_alter_of_the_recorded_provider() -> None:
    before, _ = _compiled(_model({"include": "sales%"}))
    after, _ = _compiled(_model({"exclude": "sales%"}))
    fake = FakeRedshift()
    fake.apply(plan(before, fake.state(), {}), "test")
    changed = plan(after, fake.state(), fake.ledger("test"))
    assert changed.sql == ["ALTER IDENTITY PROVIDER \"corp idc\" AUTO_CREATE_ROLES TRUE EXCLUDE GROUPS LIKE 'sales%'"]
    fake.apply(changed, "test")
    assert fake.identity_provider("corp idc").auto_create_groups == ("EXCLUDE", "sales%")


@pytest.mark.parametrize(("auto", "left", "dropped"), [
    ({"include": "sales%"}, ["AWSIDC:sales_emea"], ["AWSIDC:finance"]),
    ({"exclude": "sales%"}, ["AWSIDC:finance"], ["AWSIDC:sales_emea"]),
    (True, ["AWSIDC:finance", "AWSIDC:sales_emea"], []),
    (False, [], ["AWSIDC:finance", "AWSIDC:sales_emea"]),
])
def test_prune_leaves_the_roles_the_models_provider_creates(auto: Any, left: list[str], dropped: list[str]) -> None:
    desired, scope = _compiled(_model(auto))
    current = AccessState.of([Role("AWSIDC:sales_emea"), Role("AWSIDC:finance"), Role("other:sales_x"),
                              *desired.of_kind(IdentityProvider.KIND).values()])
    planned = plan(desired, current, {}, prune=True, scope=Scope.from_json(scope.to_json()))  # as the Lambda gets it
    assert sorted(s for s in planned.sql if s.startswith("DROP ROLE")) == sorted(
        f'DROP ROLE "{r}" FORCE' for r in [*dropped, "other:sales_x"])  # another namespace's: not this provider's
    notes = [n for n in planned.notes if n.startswith("prune leaves")]
    assert notes == ([f"prune leaves {len(left)} role(s) Redshift creates itself, as identity provider corp idc "
                      f"creates them at IdC sign-in (auto_create_roles): {', '.join(left)}"] if left else [])


@pytest.mark.parametrize(("auto", "says"), [
    ({"include": "a%", "exclude": "b%"}, ": set exactly one of include or exclude (a LIKE pattern of IdC group "
                                         "names); for every group write auto_create_roles: true"),
    ({"include": "sales-emea"}, ".include: 'sales-emea' is not a group pattern Redshift takes: letters, digits and "
                                "_ % ^ * + ? { } , $ only, at most 256 (a case-sensitive LIKE: % any run, _ one "
                                "character)"),
    ({"inclde": "x%"}, ".inclde: unknown field; known: include, exclude"),
    ("yes", ": true, false, {include: <pattern>} or {exclude: <pattern>} (a LIKE pattern of IdC group names) "
            "(found: 'yes')"),
])
def test_a_pattern_redshift_would_refuse_is_refused_naming_the_field(auto: Any, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _compiled(_model(auto))
    assert str(raised.value) == ("access/test.yaml: invalid configuration (1 problem):\n"
                                 f"  identity_providers[0].auto_create_roles{says}"), raised.value


def test_a_provider_without_patterns_keeps_its_model_document_and_one_with_them_round_trips() -> None:
    plain, _ = _compiled(_model(True))
    [provider] = plain.of_kind(IdentityProvider.KIND).values()
    assert "auto_create_groups" not in provider.to_json()
    some, _ = _compiled(_model({"exclude": "contractors%"}))
    assert AccessState.from_json(some.to_json()).canonical_json() == some.canonical_json()
    [provider] = AccessState.from_json(some.to_json()).of_kind(IdentityProvider.KIND).values()
    assert isinstance(provider, IdentityProvider) and provider.auto_create_groups == ("EXCLUDE", "contractors%")
