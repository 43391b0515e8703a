"""The Dockerfile and .dockerignore: what the image holds, runs and leaves out."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def pip_installs() -> list[list[str]]:
    """The words of each ``pip install`` the Dockerfile runs."""
    commands = [
        shlex.split(command)
        for run in instructions("RUN")
        for command in re.split(r"&&|;", run.arguments)
    ]
    return [words for words in commands if words[:2] == ["pip", "install"]]


def hashed_requirements() -> dict[str, tuple[str, list[str]]]:
    """deploy/requirements.txt: each requirement's name → (its pin, its hashes)."""
    text = (REPO / "deploy" / "requirements.txt").read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement, *options = line.split()
        assert all(option.startswith("--hash=sha256:") for option in options), line
        found[canonicalize_name(requirement.partition("==")[0])] = (
            requirement,
            [option.removeprefix("--hash=sha256:") for option in options],
        )
    return found


def pinned_versions() -> dict[str, str]:
    """deploy/constraints.txt: each package's name → its version."""
    lines = (REPO / "deploy" / "constraints.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==\S+", pin) for pin in pins), pins
    return {canonicalize_name(pin.partition("==")[0]): pin.partition("==")[2] for pin in pins}


def test_every_package_it_installs_is_pinned_and_checked_against_its_hashes() -> None:
    (dependencies, project) = pip_installs()
    assert "--require-hashes" in dependencies
    # Wheels only: a source build would fetch a build backend that no hash pins.
    assert dependencies[dependencies.index("--only-binary") + 1] == ":all:"
    assert dependencies[dependencies.index("--requirement") + 1] == "deploy/requirements.txt"
    assert repo_path_in_image("/opt/benchsync/deploy/requirements.txt") == (
        REPO / "deploy" / "requirements.txt"
    )
    # The project itself comes from the build context, with nothing downloaded.
    assert {"--no-index", "--no-deps"} <= set(project) and project[-1] == "."


def test_the_hashed_requirements_are_exactly_the_constraints_versions() -> None:
    requirements = hashed_requirements()
    assert {name: pin.partition("==")[2] for name, (pin, _) in requirements.items()} == (
        pinned_versions()
    )
    for name, (_, hashes) in requirements.items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), name
    assert {"dagster", "benchling-sdk"} <= set(requirements)
    assert "benchsync" not in requirements


def test_the_build_backend_is_pinned_and_the_build_uses_it() -> None:
    build_system = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]
    (backend_requirement,) = [Requirement(spec) for spec in build_system["requires"]]
    pinned = pinned_versions()[canonicalize_name(backend_requirement.name)]
    assert backend_requirement.specifier.contains(pinned), (backend_requirement, pinned)
    assert backend_requirement.name in hashed_requirements()
    # Built with the setuptools installed from the hashes, not one fetched for an isolated build.
    (_, project) = pip_installs()
    assert "--no-build-isolation" in project


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
        ".benchsync_database_password",
        ".bridge_database_password",
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


def test_the_compose_tests_stand_ins_carry_the_projects_names_and_their_true_versions() -> None:
    """Tagged python:3.11-slim or postgres:16, they would shadow the official images."""
    stand_ins = REPO / "deploy" / "compose-test"
    run_sh = (stand_ins / "run.sh").read_text()
    tags = dict(re.findall(r"^(python|postgres)_stand_in=(\S+)$", run_sh, re.MULTILINE))
    assert all(tag.startswith("benchsync-compose-test/") for tag in tags.values()), tags
    python = re.search(r"python(3\.\d+)-venv", (stand_ins / "python.Dockerfile").read_text())
    postgres = re.search(r"postgresql-(\d+) ", (stand_ins / "postgres.Dockerfile").read_text())
    assert python and postgres
    assert tags == {
        "python": f"benchsync-compose-test/python:{python[1]}",
        "postgres": f"benchsync-compose-test/postgres:{postgres[1]}",
    }
    # Built and passed to compose under those names only.
    assert 'build_stand_in "$python_stand_in"' in run_sh
    assert 'build_stand_in "$postgres_stand_in"' in run_sh
    assert "export PYTHON_IMAGE=$python_stand_in POSTGRES_IMAGE=$postgres_stand_in" in run_sh


def test_every_dependency_of_the_project_is_pinned_at_a_version_it_accepts() -> None:
    """A dependency added to pyproject.toml and not to the constraints fails `pip check` in the
    image build (--no-deps), and the build with it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = pinned_versions()
    for dependency in map(Requirement, project["dependencies"]):
        name = canonicalize_name(dependency.name)
        assert name in pinned, f"{dependency.name} is not in deploy/constraints.txt"
        assert dependency.specifier.contains(pinned[name]), (str(dependency), pinned[name])
