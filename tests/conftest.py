"""Shared fixtures live in tests/support/, one module per real service the tests start."""

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.emulator",
    "tests.support.tenant",
    "tests.support.listener",
]
