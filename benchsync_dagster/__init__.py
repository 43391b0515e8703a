"""benchsync's Dagster code location and the plain functions it runs.

``definitions.py`` wires the Dagster definitions in ``defs/`` (per domain: assets, checks, jobs,
sensors, schedules, and the resources); ``dagster dev -w workspace.yaml`` loads them. Beside it,
without Dagster: mapping, batching, drift, the Benchling client (``benchling/``) and the synced
tables (``storage/``).
"""
