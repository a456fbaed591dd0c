"""The parts of `runtime/planner.py`'s `plan()`: its types, the SQL of each object kind, its phases, and one module
per phase family working on the planner's shared state (`state.py`)."""
