"""Lambda entry point of the IdC OAuth application custom resource; the logic is in `redshift_idc.runtime`."""

from redshift_idc.runtime.idc_oauth_app import on_event

__all__ = ["on_event"]
