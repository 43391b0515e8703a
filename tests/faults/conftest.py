"""A running stack per fault-test module: ``dagster dev`` with the project's dagster.yaml, the
bridge under gunicorn, the emulator (tests/support/stack.py). Each module breaks its stack on
purpose (kills processes, stops databases), so none shares one; each ends comparing the tables
with the tenant (tests/support/consistency.py)."""

from tests.support.stack import stack_fixtures

stack_database_url, stack, db = stack_fixtures("module")
