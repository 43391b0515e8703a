"""benchling-sdk as the sync uses it: the paced client, fetching entities, the App configuration.

Plain functions and classes, tested without Dagster; ``defs/resources.py`` wires them up.
"""
