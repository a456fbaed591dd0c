"""`RedshiftIdcEnvironment`: one environment's stacks in a user's own CDK app or stage.

The same stacks, checks and rule packs as this repository's `app.py` (`make synth`), built by the same function
(`redshift_idc.cdk.app.environment_stacks`), so a user's app cannot deploy what `validate` would refuse.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from redshift_idc import project
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cdk.app import add_rule_packs, environment_stacks
from redshift_idc.cdk.stacks.access_stack import AccessStack
from redshift_idc.cdk.stacks.connections_stack import ConnectionsStack
from redshift_idc.cdk.stacks.identity_stack import IdentityStack
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError

# A child of the stage that marks its rule packs as added: two environments in one app run each pack once.
RULE_PACKS_MARKER = "RedshiftIdcRulePacks"


class RedshiftIdcEnvironment(Construct):
    """One environment (warehouse, and as its config asks: identity propagation, connections, access model):
    its stacks are this construct's children (`cdk deploy 'Prod/*'`), and their CloudFormation stack names are
    the ones this repository's app gives them (`<Prefix>Warehouse`, `<Prefix>Identity`, ... with the
    environment's name in CamelCase), so `verify`, `drift`, the TIP client's `from_outputs` and the deployer
    policy find them.

    `config`: the environment, as `config/<name>.yaml` fills it (or `from_yaml`). Its `access_model` names a
    model in the project's `access/` folder (or pass the model as a typed `AccessModel`, `access_model=`), whose
    scripts and sample rows are under `sql/` and `access/`: `project_root` is the folder that
    holds them (default: the current directory, or the checkout when the package runs from one). The model is
    checked before any stack exists (`validate`'s checks). `nag`: add the rule packs (AwsSolutions, our Redshift
    Serverless pack; NIST 800-53 R5 with `-c nag=nist`) to the enclosing stage or app, once per stage; they
    check every stack of that stage, the user's own too."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 access_model: AccessModel | None = None, project_root: str | Path | None = None,
                 nag: bool = True) -> None:
        super().__init__(scope, construct_id)
        if access_model is not None:
            if config.access_model not in (None, access_model.name):
                raise ConfigError(f"{self.node.path}: config names access model '{config.access_model}' and "
                                  f"access_model= is '{access_model.name}'; pass one of them")
            config = config.model_copy(update={"access_model": access_model.name})
        self.config = config
        self.project_root = Path(project_root).resolve() if project_root is not None else project.ROOT
        with project.root_at(self.project_root):
            self.stacks = environment_stacks(self, config, lambda kind: (kind, f"{config.stack_prefix}{kind}"),
                                             access_model)
        if nag:
            stage = cdk.Stage.of(self)
            if stage is None:
                raise ConfigError(f"{self.node.path}: RedshiftIdcEnvironment needs an App or a Stage above it (the "
                                  "rule packs are added there); pass nag=False to add them yourself")
            if stage.node.try_find_child(RULE_PACKS_MARKER) is None:
                Construct(stage, RULE_PACKS_MARKER)
                add_rule_packs(stage)

    @classmethod
    def from_yaml(cls, scope: Construct, construct_id: str, path: str | Path, *,
                  project_root: str | Path | None = None, nag: bool = True) -> RedshiftIdcEnvironment:
        """The environment of `<project>/config/<name>.yaml` (its `extends` bases beside it), validated as `make
        synth` validates it. The project is the folder that holds that `config/` folder, unless `project_root`
        says otherwise; the YAML must be in the project's `config/` folder, where the checks that compare
        environments (one ledger schema per database) and SAML metadata files are read."""
        file = Path(path).resolve()
        root = Path(project_root).resolve() if project_root is not None else file.parent.parent
        if file.parent != root / "config" or file.suffix != ".yaml":
            raise ConfigError(f"{path}: an environment file is <project>/config/<name>.yaml (project: {root})")
        with project.root_at(root):
            config = load_environment(file.stem)
        return cls(scope, construct_id, config=config, project_root=root, nag=nag)

    @property
    def warehouse(self) -> WarehouseStack:
        """Key, network, Redshift IdC application, namespace and workgroup (`.workgroup`, `.namespace`,
        `.key`, `.admin_secret_arn`)."""
        stack = self.stacks["warehouse"]
        assert isinstance(stack, WarehouseStack)
        return stack

    @property
    def identity(self) -> IdentityStack | None:
        """Trusted identity propagation for Data API clients (`identity_propagation` in the config)."""
        stack = self.stacks.get("identity")
        assert stack is None or isinstance(stack, IdentityStack)
        return stack

    @property
    def connections(self) -> ConnectionsStack | None:
        """Query Editor v2 and IAM federation (`query_editor_v2`, `iam_federation` in the config)."""
        stack = self.stacks.get("connections")
        assert stack is None or isinstance(stack, ConnectionsStack)
        return stack

    @property
    def access(self) -> AccessStack | None:
        """The access model's reconciler (`access_model` in the config)."""
        stack = self.stacks.get("access")
        assert stack is None or isinstance(stack, AccessStack)
        return stack
