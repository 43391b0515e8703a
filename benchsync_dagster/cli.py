"""The ``benchsync`` command line: one subcommand per part of the stack.

Each subcommand imports its part only when run, so ``benchsync emulator`` never loads Dagster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _db_upgrade(args: argparse.Namespace) -> int:
    from benchsync_dagster import database

    url = database.resolve_database_url()
    database.upgrade(url)
    print(f"database at revision {database.current_revision(url)}")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from benchling_emulator import server

    return server.serve(args)


def _demo(args: argparse.Namespace) -> int:
    from benchling_emulator import server

    # The full demo (bridge, Dagster, embedded Postgres) arrives with the Dagster code location.
    print("benchsync demo: starting the Benchling emulator only, for now (Ctrl-C stops it).")
    return server.serve(args)


def build_parser() -> argparse.ArgumentParser:
    from benchling_emulator import server

    parser = argparse.ArgumentParser(
        prog="benchsync", description="Sync a Benchling registry into Postgres with Dagster."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emulator = commands.add_parser("emulator", help="serve the local Benchling emulator")
    server.add_arguments(emulator)
    emulator.set_defaults(handler=_emulator)

    demo = commands.add_parser("demo", help="run the whole stack on this machine")
    server.add_arguments(demo)
    demo.set_defaults(handler=_demo)

    db = commands.add_parser("db", help="manage benchsync's database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", help="apply schema migrations to BENCHSYNC_DATABASE_URL (idempotent)"
    )
    upgrade.set_defaults(handler=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
