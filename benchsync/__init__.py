"""The ``benchsync`` command line and what it runs: status, replay, the local demo.

None of it is Dagster code, and nothing else imports it: what the parts share lives in
``benchsync_core``.
"""
