"""Fixtures that serve the Benchling emulator over real HTTP (filled in with the emulator)."""
