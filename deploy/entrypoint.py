#!/usr/bin/env python3
"""The image's entrypoint: turns the Postgres password into a libpq passfile, then runs the command.

The password is the container's role's own secret file (`.benchsync_database_password` for the
Dagster side, `.bridge_database_password` for the bridge; `.database_password`, as in Benchling's
example app, is the superuser's and only the postgres service holds it). libpq,
under both psycopg (benchsync's database) and psycopg2 (Dagster's storage), reads a connection's
password from the passfile that ``PGPASSFILE`` names, so the compose file's URLs carry none and
no environment variable holds it. This writes that passfile, private to the container's user,
then hands over (exec) to the container's command.

Each line names the host, port, database and user of one URL the container is given, so libpq
offers the password to those servers only: a connection pointed anywhere else (by run config,
say) finds no password for it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

PASSWORD_FILE_VARIABLE = "BENCHSYNC_DATABASE_PASSWORD_FILE"  # noqa: S105 (a name, no secret)
# The URLs a container connects with: benchsync's database, and Dagster's storage (dagster.yaml).
URL_VARIABLES = ("BENCHSYNC_DATABASE_URL", "DAGSTER_POSTGRES_URL")
DEFAULT_PORT = "5432"


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


def passfile_fields(variable: str, url: str) -> tuple[str, str, str, str]:
    """The host, port, database and user libpq connects to for ``url``, as a passfile names them.

    As libpq reads a URL: percent-escapes decoded, ``?host=``, ``port``, ``dbname`` and ``user``
    over the URL's own parts, port 5432 and the database named after the user by default.
    SQLAlchemy's ``postgresql+psycopg2://`` is libpq's URL too. (The standard library's parser,
    not psycopg's: this runs before every healthcheck.)
    """
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"{variable}: not a PostgreSQL URL (postgresql://USER@HOST/DATABASE)")
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    if hostinfo.startswith("["):  # an IPv6 address
        host, _, after = hostinfo[1:].partition("]")
        port = after.removeprefix(":")
    else:
        host, _, port = hostinfo.partition(":")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    host = query.get("host", unquote(host))
    port = query.get("port", port) or DEFAULT_PORT
    user = query.get("user", unquote(userinfo.partition(":")[0]))
    database = query.get("dbname", unquote(parts.path.removeprefix("/"))) or user
    if not host or not user or "," in host + port:
        raise SystemExit(
            f"{variable}: name one host and the user, as in postgresql://USER@HOST:5432/DATABASE"
        )
    return host, port, database, user


def passfile_line(fields: tuple[str, str, str, str], password: str) -> str:
    """A passfile line giving ``password`` to exactly these host, port, database and user.

    The format (libpq's "The Password File"): ``host:port:database:user:password``, with ``\\``
    and ``:`` escaped by a backslash.
    """
    escaped = [field.replace("\\", "\\\\").replace(":", "\\:") for field in (*fields, password)]
    return ":".join(escaped) + "\n"


def passfile_text(environ: Mapping[str, str], password: str) -> str:
    """One line per URL variable set in ``environ``."""
    lines = {
        passfile_line(passfile_fields(variable, environ[variable].strip()), password): None
        for variable in URL_VARIABLES
        if environ.get(variable, "").strip()
    }
    if not lines:
        raise SystemExit(
            f"{PASSWORD_FILE_VARIABLE} is set, but neither {' nor '.join(URL_VARIABLES)} names"
            " a server to give the password to"
        )
    return "".join(lines)


def write_passfile(environ: MutableMapping[str, str], directory: str | None = None) -> None:
    """Point ``PGPASSFILE`` at the user's passfile (mode 0600, as libpq requires), written anew
    with the password for each server the environment's URLs name.

    One file per user, replaced whole: a healthcheck that runs its command through this
    entrypoint every 30 s rewrites it instead of leaving a file behind each time.
    """
    password_file = environ.get(PASSWORD_FILE_VARIABLE, "").strip()
    if not password_file:
        return
    text = passfile_text(environ, read_password(password_file))
    directory = directory or tempfile.gettempdir()
    descriptor, written = tempfile.mkstemp(prefix="benchsync-", suffix=".tmp", dir=directory)
    with os.fdopen(descriptor, "w") as passfile:
        passfile.write(text)
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
