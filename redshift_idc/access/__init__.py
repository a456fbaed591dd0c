"""The access model: its schema, the compiler to a desired state, SQL expressions, the preview of who sees what,
the transition check, and import from an existing catalog."""
