"""The access model compiler: one module per object kind, each adding its objects to the shared `Resolver`."""
