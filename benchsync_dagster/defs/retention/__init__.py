"""Housekeeping that keeps benchsync's own tables bounded: the inbox's finished rows."""
