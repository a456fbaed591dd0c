"""Configuration: one environment's YAML (layered on config/_shared.yaml) as typed settings, and the pipeline's."""
