"""deploy/entrypoint.py: the password from the secret file reaches both database URLs intact."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from tests.deployment.stack import REPO

# Characters a generated password may hold that mean something in a URL.
AWKWARD_PASSWORD = "p@ss:w/rd?#%&= ü"
BENCHSYNC_URL = "postgresql://postgres@postgres:5432/benchling"


@pytest.fixture(scope="module")
def entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entrypoint", REPO / "deploy" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_password_reads_back_the_same_in_psycopg_and_sqlalchemy(
    entrypoint: ModuleType,
) -> None:
    url = entrypoint.with_password(BENCHSYNC_URL, AWKWARD_PASSWORD)
    # psycopg opens benchsync's database; SQLAlchemy opens Dagster's storage.
    assert conninfo_to_dict(url)["password"] == AWKWARD_PASSWORD
    assert make_url(url).password == AWKWARD_PASSWORD
    assert make_url(url).host == "postgres"


def test_a_url_that_has_a_password_keeps_it(entrypoint: ModuleType) -> None:
    url = "postgresql://postgres:mine@postgres:5432/benchling"
    assert entrypoint.with_password(url, "other") == url


def test_both_urls_are_filled_from_the_file(entrypoint: ModuleType, tmp_path: Path) -> None:
    password_file = tmp_path / "database_password"
    # Only trailing newlines go, as when the postgres image reads POSTGRES_PASSWORD_FILE.
    password_file.write_text(" secret \n\n")
    environ = {
        "BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file),
        "BENCHSYNC_DATABASE_URL": BENCHSYNC_URL,
        "DAGSTER_POSTGRES_URL": "postgresql+psycopg2://postgres@postgres:5432/dagster",
    }
    entrypoint.fill_passwords(environ)
    assert environ["BENCHSYNC_DATABASE_URL"] == (
        "postgresql://postgres:%20secret%20@postgres:5432/benchling"
    )
    assert make_url(environ["DAGSTER_POSTGRES_URL"]).password == " secret "


def test_without_a_password_file_nothing_changes(entrypoint: ModuleType) -> None:
    environ = {"BENCHSYNC_DATABASE_URL": BENCHSYNC_URL}
    entrypoint.fill_passwords(environ)
    assert environ == {"BENCHSYNC_DATABASE_URL": BENCHSYNC_URL}


def test_an_empty_or_missing_password_file_stops_the_container_with_its_name(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    empty = tmp_path / "database_password"
    empty.write_text("\n")
    for path in (empty, tmp_path / "missing"):
        with pytest.raises(SystemExit, match="BENCHSYNC_DATABASE_PASSWORD_FILE"):
            entrypoint.fill_passwords({"BENCHSYNC_DATABASE_PASSWORD_FILE": str(path)})
