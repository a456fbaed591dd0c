"""Lambda entry points of the access-model reconcile custom resource; the logic is in `redshift_idc.runtime`."""

from redshift_idc.runtime.reconcile_handler import is_complete, on_event

__all__ = ["is_complete", "on_event"]
