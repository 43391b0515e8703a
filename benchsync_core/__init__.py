"""What every part of benchsync shares: reading settings from the environment (``settings``),
finding and reaching benchsync's Postgres (``database``), one description per kind of Benchling
object (``kinds``), and the migrations runner behind ``benchsync db upgrade`` (``migrations``).

``settings``, ``database`` and ``kinds`` load only the standard library and psycopg, so the
bridge, the code location and the command line may all import them; ``migrations`` alone loads
Alembic.
"""
