"""The ``benchsync`` command line: one subcommand per part of the stack.

Each subcommand imports its part only when run, so ``benchsync emulator`` never loads Dagster.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webhook_sensor_bridge.inbox import Replay


def _db_upgrade(args: argparse.Namespace) -> int:
    from benchsync_core import database, migrations

    url = database.resolve_database_url()
    try:
        migrations.upgrade(url)
    except database.DatabaseUnavailable as error:
        print(f"benchsync db upgrade: {error}", file=sys.stderr)
        return 2
    print(f"database at revision {migrations.current_revision(url)}")
    return 0


def _db_grant_bridge(args: argparse.Namespace) -> int:
    import psycopg

    from benchsync_core import database
    from webhook_sensor_bridge import inbox

    try:
        with database.connect(database.resolve_database_url(), connect_timeout=5) as connection:
            inbox.grant_recording(connection, args.role)
    except (database.DatabaseUnavailable, psycopg.Error) as error:
        print(f"benchsync db grant-bridge: {error}".strip(), file=sys.stderr)
        return 2
    print(f"{args.role} may now SELECT and INSERT benchsync.inbox, and nothing else of benchsync's")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from benchling_emulator import server

    return server.serve(args)


def _bridge(args: argparse.Namespace) -> int:
    # Gevent's patches before anything imports psycopg: its gevent workers' waits must yield.
    from webhook_sensor_bridge import cooperative

    cooperative.patch()
    # Only the bridge's own modules: its processes load neither Dagster nor Alembic.
    from benchsync_core.database import DatabaseUnavailable
    from benchsync_core.settings import ConfigurationError
    from webhook_sensor_bridge.server import NotMigrated, check_database, serve
    from webhook_sensor_bridge.settings import Settings

    try:
        settings = Settings.from_env()
        settings.check_host(args.host)
        check_database(settings.database_url)
    except (ConfigurationError, DatabaseUnavailable, NotMigrated) as error:
        print(f"benchsync bridge: {error}", file=sys.stderr)
        return 2
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def _status(args: argparse.Namespace) -> int:
    import psycopg

    from benchsync import status
    from benchsync_core import database

    try:
        with database.connect(database.resolve_database_url(), connect_timeout=5) as connection:
            current = status.read_status(connection)
    except database.DatabaseUnavailable as error:
        print(f"benchsync status: {error}", file=sys.stderr)
        return 2
    except psycopg.errors.UndefinedTable:
        print("benchsync status: no inbox yet; run `benchsync db upgrade`", file=sys.stderr)
        return 2
    print(status.render_json(current) if args.json else status.render_table(current))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from benchsync_core import database
    from webhook_sensor_bridge import inbox

    try:
        replay = _replay_selection(args)
    except ValueError as error:
        print(f"benchsync replay: {error}", file=sys.stderr)
        return 2
    try:
        with database.connect(database.resolve_database_url(), connect_timeout=5) as connection:
            requeued = inbox.requeue(connection, replay)
    except database.DatabaseUnavailable as error:
        print(f"benchsync replay: {error}", file=sys.stderr)
        return 2
    total = sum(requeued.values())
    former = ", ".join(f"{count} {state}" for state, count in sorted(requeued.items()))
    print(
        f"requeued {total} {replay.description}{f' ({former})' if former else ''};"
        " the sensor picks them up on its next tick"
    )
    return 0


def _replay_selection(args: argparse.Namespace) -> Replay:
    """The events ``benchsync replay``'s flags name: dead letters unless a selection is given."""
    from webhook_sensor_bridge.inbox import BatchSpan, Replay

    if args.until is not None and (args.webhook_ids or args.batch):
        raise ValueError(
            "--until narrows a --since window; it goes with neither --webhook-id nor --batch"
        )
    if args.webhook_ids:
        return Replay(webhook_ids=args.webhook_ids, description="events named by webhook id")
    if args.batch:
        return Replay(
            batch=BatchSpan.parse(args.batch), description=f"events of batch {args.batch}"
        )
    if args.since is not None or args.until is not None:
        return Replay(
            received_from=args.since,
            received_until=args.until,
            description="events received in that window",
        )
    return Replay(state="dead", description="dead-lettered events")


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _demo(args: argparse.Namespace) -> int:
    from benchsync.demo import command

    return command.run(args)


def build_parser() -> argparse.ArgumentParser:
    from benchling_emulator import settings as emulator_settings

    parser = argparse.ArgumentParser(
        prog="benchsync", description="Sync a Benchling registry into Postgres with Dagster."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emulator = commands.add_parser("emulator", help="serve the local Benchling emulator")
    emulator_settings.add_arguments(emulator)
    emulator.set_defaults(handler=_emulator)

    demo = commands.add_parser("demo", help="run the whole stack on this machine")
    add = demo.add_argument
    add("--entities", type=int, default=200, help="entities to register (default %(default)s)")
    add("--exit-when-synced", action="store_true", help="stop once all are synced, exit 0")
    add("--timeout", type=float, default=600, help="seconds to wait for the sync (default 600)")
    add("--bridge-port", type=int, default=8000)
    add("--dagster-port", type=int, default=3000)
    add("--emulator-port", type=int, default=8900)
    add("--rate-limit", type=int, default=60, help="the emulated tenant's requests per 30 s")
    add(
        "--webhook-rate",
        type=float,
        default=emulator_settings.EmulatorSettings.webhook_rate,
        help="webhooks per second the emulated tenant delivers (default %(default)s)",
    )
    add(
        "--event-envelope",
        choices=emulator_settings.EVENT_ENVELOPES,
        default=emulator_settings.EmulatorSettings.event_envelope,
        help="v0-beta: the emulated tenant wraps registrations in v0-beta.event.created, as"
        " for an App configured like Benchling's example (default %(default)s)",
    )
    demo.set_defaults(handler=_demo)

    db = commands.add_parser("db", help="manage benchsync's database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", help="apply schema migrations to BENCHSYNC_DATABASE_URL (idempotent)"
    )
    upgrade.set_defaults(handler=_db_upgrade)
    grant_bridge = db_commands.add_parser(
        "grant-bridge",
        help="grant an existing role what the bridge needs (SELECT, INSERT on the inbox) and"
        " nothing more",
    )
    grant_bridge.add_argument("role", help="the role the bridge connects as")
    grant_bridge.set_defaults(handler=_db_grant_bridge)

    bridge = commands.add_parser("bridge", help="serve the webhook bridge (gunicorn)")
    bridge.add_argument("--host", default="127.0.0.1", help="address to listen on")
    bridge.add_argument("--port", type=int, default=8000, help="port to listen on")
    bridge.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: 2 per core)"
    )
    bridge.set_defaults(handler=_bridge)

    replay = commands.add_parser(
        "replay",
        help="requeue dead-lettered events; or one event, one batch, or a time window of them",
    )
    selection = replay.add_mutually_exclusive_group()
    selection.add_argument("--since", type=_timestamp, help="ISO time; with --until, a window")
    selection.add_argument(
        "--webhook-id",
        dest="webhook_ids",
        action="append",
        help="one event, by its webhook-id (repeatable)",
    )
    selection.add_argument(
        "--batch", help="the events of one batch, by its run key (inbox-<txid>.<seq>-<txid>.<seq>)"
    )
    replay.add_argument("--until", type=_timestamp, help="ISO time (exclusive); UTC if no zone")
    replay.set_defaults(handler=_replay)

    status = commands.add_parser(
        "status", help="inbox counts by state, last sync, last reconciliation and its drift"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
