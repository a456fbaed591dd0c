"""The `python -m redshift_idc` commands."""
