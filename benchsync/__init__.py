"""The ``benchsync`` command line and what it runs: migrations, status, replay, the local demo.

None of it is Dagster code. Two modules are leaves that every package may import, as they load
only the standard library and psycopg: ``settings`` (reading the environment) and ``database``
(finding and reaching benchsync's Postgres).
"""
