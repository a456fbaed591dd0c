"""`apply_estimate:` in the environment config: what the apply estimate (`access/estimate.py`) prices a Data API
step at, and the margin it adds before comparing with the limit.

The defaults are guesses, calibrated so a batch of 40 single statements costs about 1.5 s before the margin (the
figure the estimate used alone before it priced statements, objects, the status lag and the calls); a user
replaces them with figures measured on their workgroup (README, "The real limits": from the opt-in live test or
a conformance recording). They are settings rather than constants because latency is a property of the
workgroup (its capacity, its region, its load), not of this code.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from redshift_idc.config.base import StrictModel


def _a_number(value: Any) -> Any:
    """A number as YAML wrote it: `true` (pydantic would read 1) and quoted text are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("float_type", "expected a number of seconds, e.g. 0.3 (unquoted)")
    return value


Seconds = Annotated[float, BeforeValidator(_a_number), Field(ge=0, le=300)]


class ApplyEstimateConfig(StrictModel):
    """Seconds per Data API step: per batch, per statement and per object its statements cover, the status
    lag, per call; then the margin. Every field has a default; set only what you measured."""

    seconds_per_batch: Seconds = Field(
        default=0.3, description="seconds each Data API batch costs whatever it holds (> 0)")
    seconds_per_statement: Seconds = Field(default=0.02, description="seconds per SQL statement of a batch")
    seconds_per_object: Seconds = Field(
        default=0.001, description="seconds per object a batch's statements cover (a coalesced GRANT covers many)")
    seconds_status_lag: Seconds = Field(
        default=0.3, description="seconds from a batch's end to DescribeStatement saying so (Duration excludes it)")
    seconds_per_call: Seconds = Field(default=0.05, description="seconds one Data API call takes, round trip")
    margin: Annotated[float, BeforeValidator(_a_number), Field(le=10)] = Field(
        default=1.25, description="the estimate is multiplied by this before it is compared with the limit (>= 1)")

    @field_validator("seconds_per_batch")
    @classmethod
    def _batches_cost_time(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0: every Data API batch takes time (submitting, running, committing); "
                             "measure it (README, \"The real limits\") or leave the default out, e.g. "
                             "seconds_per_batch: 0.3")
        return value

    @field_validator("margin")
    @classmethod
    def _a_margin_adds(cls, value: float) -> float:
        if value < 1:
            raise ValueError("must be at least 1: the margin covers what the terms miss (retries, "
                             "a slower day), so it can only add to the estimate; write e.g. margin: 1.25 (1: none)")
        return value

    def describe(self) -> str:
        """The terms as the estimate's messages state them."""
        return (f"{self.seconds_per_batch:g} s per batch + {self.seconds_per_statement:g} s per statement + "
                f"{self.seconds_per_object:g} s per object + {self.seconds_status_lag:g} s status lag + "
                f"{self.seconds_per_call:g} s per Data API call, x{self.margin:g} margin")
