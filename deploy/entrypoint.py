#!/usr/bin/env python3
"""The image's entrypoint: turns the Postgres password into a libpq passfile, then runs the command.

The password lives in the `.database_password` secret file, as in Benchling's example app. libpq,
under both psycopg (benchsync's database) and psycopg2 (Dagster's storage), reads a connection's
password from the passfile that ``PGPASSFILE`` names, so the compose file's URLs carry none and
no environment variable holds it. This writes that passfile, private to the container's user,
then hands over (exec) to the container's command.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import MutableMapping, Sequence
from pathlib import Path

PASSWORD_FILE_VARIABLE = "BENCHSYNC_DATABASE_PASSWORD_FILE"  # noqa: S105 (a name, no secret)


def read_password(path: str) -> str:
    try:
        # As written: text mode would turn a Windows \r\n into \n, hiding the \r Postgres keeps.
        text = Path(path).read_bytes().decode()
    except OSError as error:
        message = f"{PASSWORD_FILE_VARIABLE}: cannot read {path}: {error.strerror}"
        raise SystemExit(message) from None
    # The postgres image reads POSTGRES_PASSWORD_FILE with $(< file), which drops trailing
    # newlines only; strip the same, so both sides hold the same password.
    password = text.rstrip("\n")
    if not password:
        raise SystemExit(f"{PASSWORD_FILE_VARIABLE}: {path} is empty; put a password in it")
    # A passfile line cannot hold these; Postgres would keep a trailing \r that libpq drops.
    if "\r" in password or "\n" in password:
        raise SystemExit(
            f"{PASSWORD_FILE_VARIABLE}: {path} holds a line break (saved with Windows line"
            " endings?); write the password on one line"
        )
    return password


def passfile_line(password: str) -> str:
    """A passfile line giving ``password`` to every host, port, database and user.

    The format (libpq's "The Password File"): ``host:port:database:user:password``, with ``\\``
    and ``:`` escaped by a backslash.
    """
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:*:{escaped}\n"


def write_passfile(environ: MutableMapping[str, str], directory: str | None = None) -> None:
    """Point ``PGPASSFILE`` at the user's passfile (mode 0600, as libpq requires), written anew
    with the password.

    One file per user, replaced whole: a healthcheck that runs its command through this
    entrypoint every 30 s rewrites it instead of leaving a file behind each time.
    """
    password_file = environ.get(PASSWORD_FILE_VARIABLE, "").strip()
    if not password_file:
        return
    line = passfile_line(read_password(password_file))
    directory = directory or tempfile.gettempdir()
    descriptor, written = tempfile.mkstemp(prefix="benchsync-", suffix=".tmp", dir=directory)
    with os.fdopen(descriptor, "w") as passfile:
        passfile.write(line)
    path = os.path.join(directory, f"benchsync-{os.getuid()}.pgpass")
    os.replace(written, path)  # atomic: a process reading it meanwhile sees one whole file
    environ["PGPASSFILE"] = path


def main(argv: Sequence[str]) -> None:
    if not argv:
        raise SystemExit("usage: benchsync-entrypoint COMMAND [ARG...]")
    write_passfile(os.environ)
    os.execvp(argv[0], list(argv))  # noqa: S606 (the command replaces this process)


if __name__ == "__main__":
    main(sys.argv[1:])
