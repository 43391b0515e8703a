"""Typed tables: one Postgres table per entity schema, a column per field (plain functions:
naming, type mapping, catalog planning; the SQL lives in ``storage.typed_tables``)."""
