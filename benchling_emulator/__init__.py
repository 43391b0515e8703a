"""A local Benchling tenant that the real benchling-sdk talks to over HTTP.

Start one with ``EmulatorServer(EmulatorSettings(...))`` (see ``server.py``) or
``benchsync emulator``. Where things live:

- ``settings``: every knob, and the command-line flags that fill it;
- ``tenant``: entities, their schemas (``schema_catalog``), tasks and the App's configuration
  (``app_configuration``) behind one lock, emitting events on change; ``entities``: what it
  holds of an entity and how lists filter them; ``rendering``: an entity's JSON; ``sessions``:
  the App's sessions, under their own lock; ``schemas`` and ``seed`` describe what a fresh
  tenant holds; ``clock`` orders changes;
- ``api``: Benchling's REST routes under ``/api/v2`` and the JWKS; ``listing``: paging,
  sorting and time filters; ``auth``: OAuth2 client credentials;
- ``limits``: the sliding-window rate limit and injected faults;
- ``events`` and ``delivery``: webhook envelopes, signed (``signing``) and delivered;
- ``control``: the ``/_emulator`` endpoints for demos and tests; ``app``: the Flask factory.
"""
