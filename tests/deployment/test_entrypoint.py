"""deploy/entrypoint.py: the password from the secret file reaches libpq through a passfile."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tests.deployment.stack import REPO

# Characters a generated password may hold that mean something in a URL or a passfile.
AWKWARD_PASSWORD = "p@ss:w/rd?#%&= ü\\:"


@pytest.fixture(scope="module")
def entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entrypoint", REPO / "deploy" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _passfile_for(entrypoint: ModuleType, password: str, tmp_path: Path) -> dict[str, str]:
    password_file = tmp_path / "database_password"
    password_file.write_text(password)
    environ = {"BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file)}
    entrypoint.write_passfile(environ, directory=str(tmp_path))
    return environ


def test_libpq_reads_the_password_back_intact(
    entrypoint: ModuleType,
    tmp_path: Path,
    postgres_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ = _passfile_for(entrypoint, AWKWARD_PASSWORD + "\n", tmp_path)
    monkeypatch.setenv("PGPASSFILE", environ["PGPASSFILE"])
    # libpq looks the password up in the passfile while connecting (psycopg2 does the same).
    with psycopg.connect(postgres_server_url) as connection:
        assert connection.info.password == AWKWARD_PASSWORD


def test_the_passfile_is_private_and_holds_no_newline_of_the_secret(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    # Only trailing newlines go, as when the postgres image reads POSTGRES_PASSWORD_FILE.
    environ = _passfile_for(entrypoint, " secret \n\n", tmp_path)
    passfile = Path(environ["PGPASSFILE"])
    assert passfile.read_text() == "*:*:*:*: secret \n"
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600


def test_every_run_rewrites_one_passfile(entrypoint: ModuleType, tmp_path: Path) -> None:
    """The daemon's healthcheck runs through the entrypoint every 30 s: no file per run."""
    paths = {_passfile_for(entrypoint, f"secret{run}", tmp_path)["PGPASSFILE"] for run in range(3)}
    (path,) = paths
    assert Path(path).read_text() == "*:*:*:*:secret2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["database_password", Path(path).name]
    )


def test_without_a_password_file_nothing_changes(entrypoint: ModuleType) -> None:
    environ = {"BENCHSYNC_DATABASE_URL": "postgresql://postgres@postgres:5432/benchling"}
    entrypoint.write_passfile(environ)
    assert environ == {"BENCHSYNC_DATABASE_URL": "postgresql://postgres@postgres:5432/benchling"}


def test_an_empty_or_missing_password_file_stops_the_container_with_its_name(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    empty = tmp_path / "database_password"
    empty.write_text("\n")
    for path in (empty, tmp_path / "missing"):
        with pytest.raises(SystemExit, match="BENCHSYNC_DATABASE_PASSWORD_FILE"):
            entrypoint.write_passfile({"BENCHSYNC_DATABASE_PASSWORD_FILE": str(path)})


def test_a_password_file_with_a_line_break_inside_is_refused(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    for text in ("secret\r\n", "sec\nret"):
        password_file = tmp_path / "database_password"
        password_file.write_bytes(text.encode())
        with pytest.raises(SystemExit, match="line break"):
            entrypoint.write_passfile({"BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file)})
