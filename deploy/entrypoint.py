#!/usr/bin/env python3
"""The image's entrypoint: puts the Postgres password into the database URLs, then runs the command.

The password lives in the `.database_password` secret file, as in Benchling's example app, and a
URL cannot read a file. So the compose file gives URLs without a password plus
``BENCHSYNC_DATABASE_PASSWORD_FILE``, and this fills the password into each URL before it hands
over (exec) to the container's command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PASSWORD_FILE_VARIABLE = "BENCHSYNC_DATABASE_PASSWORD_FILE"  # noqa: S105 (a name, no secret)
# benchsync's own database and Dagster's storage (dagster.yaml); both are on the same server.
URL_VARIABLES = ("BENCHSYNC_DATABASE_URL", "DAGSTER_POSTGRES_URL")


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` set, percent-encoded; a URL that already has one is kept."""
    parts = urlsplit(url)
    if parts.username is None or parts.password is not None:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def read_password(path: str) -> str:
    try:
        text = Path(path).read_text()
    except OSError as error:
        message = f"{PASSWORD_FILE_VARIABLE}: cannot read {path}: {error.strerror}"
        raise SystemExit(message) from None
    # The postgres image reads POSTGRES_PASSWORD_FILE with $(< file), which drops trailing
    # newlines only; strip the same, so both sides hold the same password.
    password = text.rstrip("\n")
    if not password:
        raise SystemExit(f"{PASSWORD_FILE_VARIABLE}: {path} is empty; put a password in it")
    return password


def fill_passwords(environ: MutableMapping[str, str]) -> None:
    password_file = environ.get(PASSWORD_FILE_VARIABLE, "").strip()
    if not password_file:
        return
    password = read_password(password_file)
    for name in URL_VARIABLES:
        if environ.get(name):
            environ[name] = with_password(environ[name], password)


def main(argv: Sequence[str]) -> None:
    if not argv:
        raise SystemExit("usage: benchsync-entrypoint COMMAND [ARG...]")
    fill_passwords(os.environ)
    os.execvp(argv[0], list(argv))  # noqa: S606 (the command replaces this process)


if __name__ == "__main__":
    main(sys.argv[1:])
