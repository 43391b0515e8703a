"""benchsync's Dagster code location and the plain functions it runs.

``definitions.py`` wires the Dagster definitions in ``defs/`` (per domain: assets, checks, jobs,
sensors, schedules, and the resources); ``workspace.yaml`` loads them. Beside it, without
Dagster: what a batch is and what becomes of it (``batching``, ``batch_runs``,
``batch_decisions``, ``batch_events``), ``step_retries``, ``poll_deferral``, ``mapping``, the
writers (``snapshot_writer``, ``listed_writes``), ``reconciliation``, ``rebuild``, ``liveness``,
the Benchling client (``benchling/``), the typed tables (``typed/``) and benchsync's tables
(``storage/``).
"""
