"""Lambda entry point of the deploy-time lookups custom resource; the logic is in `redshift_idc.runtime`."""

from redshift_idc.runtime.lookups import on_event

__all__ = ["on_event"]
