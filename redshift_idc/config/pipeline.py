"""`pipeline.yaml`: where the delivery pipeline lives and which environments it deploys, in order."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationError, model_validator

from redshift_idc import project
from redshift_idc.config.base import AccountId, Region, StrictModel
from redshift_idc.config.errors import ConfigError, format_validation_error, not_a_mapping
from redshift_idc.config.yaml_files import available_environments, read_yaml

PIPELINE_FILE = Path(__file__).resolve().parents[2] / "pipeline.yaml"


class PipelineStage(StrictModel):
    environment: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    approval: bool = Field(description="a manual approval, after the plan is shown, before this stage deploys")


class PipelineConfig(StrictModel):
    account: AccountId
    region: Region
    repository: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
    branch: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    connection_arn: Annotated[str, StringConstraints(
        pattern=r"^arn:aws(-[a-z]+)*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$")]
    stages: tuple[PipelineStage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_stages(self) -> PipelineConfig:
        names = [s.environment for s in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stages: environment(s) {', '.join(duplicates)} listed twice")
        return self


def load_pipeline(path: Path = PIPELINE_FILE) -> PipelineConfig:
    if not path.is_file():
        raise ConfigError(f"{project.shown(path)}: no pipeline configuration")
    data = read_yaml(path)
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise not_a_mapping(path, data, "branch: main")
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(path, error, PipelineConfig)) from None
    known = available_environments()
    for index, stage in enumerate(config.stages):
        if stage.environment not in known:
            raise ConfigError(f"{project.shown(path)}: stages[{index}].environment: no config/"
                              f"{stage.environment}.yaml (known: {', '.join(known)})")
    return config
