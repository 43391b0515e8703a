"""One running stack for the end-to-end tests: ``dagster dev``, the bridge, the emulator, on
databases of their own (tests/support/stack.py)."""

from tests.support.stack import stack_fixtures

stack_database_url, stack, db = stack_fixtures("session")
