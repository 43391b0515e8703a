"""The Dockerfile and .dockerignore: what the image holds, runs and leaves out."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deployment.stack import (
    REPO,
    benchsync_services,
    check_command,
    dockerignored,
    image_copies,
    instructions,
    interpolate,
    repo_path_in_image,
    services,
)


def test_it_builds_on_python_3_11_slim_pinned_by_digest_as_compose_passes_it() -> None:
    (base,) = instructions("FROM")
    assert base.arguments == "${PYTHON_IMAGE}"
    (argument,) = [arg for arg in instructions("ARG") if arg.arguments.startswith("PYTHON_IMAGE=")]
    default = argument.arguments.partition("=")[2]
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", default)
    for service in benchsync_services().values():
        assert interpolate(service["build"]["args"]["PYTHON_IMAGE"]) == default


def test_it_installs_the_project_with_its_dependencies_pinned() -> None:
    install = "pip install --constraint deploy/constraints.txt ."
    assert any(run.arguments == install for run in instructions("RUN"))
    pins = [
        line
        for line in (REPO / "deploy" / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==\S+", pin) for pin in pins), pins
    assert {"dagster==1.13.27", "benchling-sdk==1.25.0"} <= set(pins)
    assert not any(pin.startswith("benchsync==") for pin in pins)


def test_it_runs_as_a_user_other_than_root() -> None:
    assert instructions("USER")[-1].arguments not in ("root", "0")


def test_the_default_command_serves_the_bridge_like_the_example_app() -> None:
    (cmd,) = instructions("CMD")
    check_command(cmd.exec_form())
    assert cmd.exec_form() == services()["bridge"]["command"]


def test_the_entrypoint_is_the_repos_script_on_the_path() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    (script,) = entrypoint.exec_form()
    assert repo_path_in_image(f"/usr/local/bin/{script}") == REPO / "deploy" / "entrypoint.py"
    assert [copy for copy in instructions("COPY") if script in copy.arguments]
    # Made executable by a RUN, not COPY --chmod, which the classic builder rejects.
    assert any(
        f"chmod 0755 /usr/local/bin/{script}" in run.arguments for run in instructions("RUN")
    )
    assert (REPO / "deploy" / "entrypoint.py").read_text().startswith("#!/usr/bin/env python3\n")


def test_it_publishes_the_ports_compose_maps() -> None:
    exposed = {port for expose in instructions("EXPOSE") for port in expose.arguments.split()}
    for service in ("bridge", "dagster-webserver"):
        (mapping,) = services()[service]["ports"]
        assert mapping.rpartition(":")[2] in exposed


def test_everything_it_copies_exists_and_reaches_the_build() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for _, source in image_copies():
        assert source.exists(), source
        relative = source.relative_to(REPO).as_posix()
        copied = [path for path in tracked if path == relative or path.startswith(relative + "/")]
        assert copied, f"nothing in the repo at {relative}"
        assert not [path for path in copied if dockerignored(path)], relative


@pytest.mark.parametrize(
    "path",
    [
        ".client_secret",
        ".database_password",
        ".env",
        ".venv/bin/python",
        ".git/HEAD",
        ".benchsync/postgres/PG_VERSION",
        "benchsync_dagster/__pycache__/cli.cpython-311.pyc",
        "tests/conftest.py",
    ],
)
def test_secrets_environments_and_caches_stay_out_of_the_build(path: str) -> None:
    assert dockerignored(path)
