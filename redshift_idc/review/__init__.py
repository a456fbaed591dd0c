"""What a pull request shows: the synth summary and the base-versus-head review of templates and access."""
