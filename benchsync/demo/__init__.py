"""``benchsync demo``: the whole stack on this machine, with nothing but Python.

- ``databases``: benchsync's Postgres (configured, or embedded) and Dagster's beside it;
- ``processes``: the children the demo starts (bridge, ``dagster dev``), their logs and ports;
- ``stack``: all of it started and stopped together; the end-to-end tests and benchmarks use it;
- ``progress``: the progress line and the closing summary;
- ``command``: ``benchsync demo`` itself, stopped cleanly by Ctrl-C.
"""
