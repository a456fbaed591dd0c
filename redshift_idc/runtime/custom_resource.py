"""A typed view of the CloudFormation custom-resource event the Provider framework hands us.

The Provider framework posts the response to CloudFormation itself; our handlers only return
`{"PhysicalResourceId": ..., "Data": {...}}` or raise. CloudFormation turns every property value into
a string, so handlers read properties through this class instead of indexing raw dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

RequestType = Literal["Create", "Update", "Delete"]


class CustomResourceError(Exception):
    """A failure whose message is safe to show in the CloudFormation event (no secrets)."""


@dataclass(frozen=True)
class CustomResourceEvent:
    request_type: RequestType
    properties: dict[str, Any]
    old_properties: dict[str, Any] = field(default_factory=dict)
    physical_resource_id: str | None = None
    request_id: str = ""

    @classmethod
    def from_dict(cls, event: dict[str, Any]) -> CustomResourceEvent:
        request_type = event.get("RequestType")
        if request_type not in ("Create", "Update", "Delete"):
            raise CustomResourceError(f"unexpected RequestType {request_type!r}")
        properties = dict(event.get("ResourceProperties") or {})
        properties.pop("ServiceToken", None)
        old = dict(event.get("OldResourceProperties") or {})
        old.pop("ServiceToken", None)
        return cls(
            request_type=cast(RequestType, request_type),
            properties=properties,
            old_properties=old,
            physical_resource_id=event.get("PhysicalResourceId"),
            request_id=str(event.get("RequestId") or ""),
        )

    def required(self, name: str) -> Any:
        if name not in self.properties:
            raise CustomResourceError(f"the custom resource property {name} is missing")
        return self.properties[name]
