"""Lambda entry points of the Lakehouse registration custom resource; the logic is in `redshift_idc.runtime`."""

from redshift_idc.runtime.lakehouse_registration import is_complete, on_event

__all__ = ["is_complete", "on_event"]
