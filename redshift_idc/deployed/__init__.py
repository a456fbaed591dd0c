"""Read-only views of a deployed environment with the caller's credentials: snapshot, drift, verify."""
