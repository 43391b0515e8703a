"""The deployment files read the way Docker would read them; no Docker engine exists here."""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import posixpath
import re
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import yaml

from benchsync.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
# The packages the image installs, and its entrypoint: whatever reads the environment.
CODE_DIRS = (
    "benchsync",
    "webhook_sensor_bridge",
    "benchsync_dagster",
    "benchling_emulator",
    "deploy",
)
ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}")
# The values a user's .env holds: the example app's CLIENT_ID and APP_DEFINITION_ID.
DOTENV = {
    "CLIENT_ID": "Ts7jtwPohM",
    "APP_DEFINITION_ID": "appdef_Trow4zbR3o",
    "BENCHLING_TENANT_URL": "https://my-tenant.benchling.com",
}


def load_yaml(path: str | Path) -> Any:
    """A YAML file; a relative path is taken from the repo root."""
    return yaml.safe_load((REPO / path).read_text())


@functools.cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml("docker-compose.yaml")
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def benchsync_services() -> dict[str, dict[str, Any]]:
    """The services that run the image built from ./Dockerfile."""
    return {
        name: spec
        for name, spec in services().items()
        if isinstance(spec.get("build"), dict) and spec["build"].get("context") == "."
    }


def interpolate(value: str, dotenv: Mapping[str, str] = DOTENV) -> str:
    """Compose's ``${NAME}`` and ``${NAME:-default}``, filled from ``dotenv``."""
    return INTERPOLATION.sub(
        lambda match: dotenv.get(match["name"]) or match["default"] or "", value
    )


def environment(service: str, dotenv: Mapping[str, str] = DOTENV) -> dict[str, str]:
    """What the container's environment holds, as compose would set it from ``dotenv``."""
    declared: dict[str, str] = services()[service].get("environment", {})
    return {name: interpolate(str(value), dotenv) for name, value in declared.items()}


def env_names_read_by_code() -> set[str]:
    """Environment variable names the code spells out, and those dagster.yaml reads via ``env:``.

    Every reader here names its variable as a whole string literal (``environ.get("X")``,
    ``EnvVar("X")``, ``X_VARIABLE = "X"``), so a name compose sets that no literal holds is one
    nothing reads.
    """
    names = dagster_yaml_env_names()
    for directory in CODE_DIRS:
        for path in (REPO / directory).rglob("*.py"):
            names.update(
                node.value
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and ENV_NAME.fullmatch(node.value)
            )
    return names


def dagster_yaml_env_names() -> set[str]:
    return set(_env_values(load_yaml("dagster.yaml")))


def _env_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            yield node["env"]
        for value in node.values():
            yield from _env_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_values(value)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        form: list[str] = yaml.safe_load(self.arguments)  # a JSON array is YAML too
        return form


@functools.cache
def dockerfile() -> tuple[Instruction, ...]:
    """The Dockerfile's instructions, comments dropped and continued lines joined."""
    instructions: list[Instruction] = []
    pending = ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pending += line.rstrip().removesuffix("\\")
        if line.rstrip().endswith("\\"):
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return tuple(instructions)


def instructions(keyword: str) -> list[Instruction]:
    return [instruction for instruction in dockerfile() if instruction.keyword == keyword]


def image_env() -> dict[str, str]:
    pairs = [
        word.split("=", 1) for env in instructions("ENV") for word in shlex.split(env.arguments)
    ]
    return {name: value for name, value in pairs}


@functools.cache
def image_copies() -> tuple[tuple[str, Path], ...]:
    """(path in the image, path in the repo) for each COPY, relative targets resolved."""
    copies: list[tuple[str, Path]] = []
    workdir = "/"
    for instruction in dockerfile():
        if instruction.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, instruction.arguments)
        if instruction.keyword != "COPY":
            continue
        *sources, target = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
        target = posixpath.join(workdir, target)
        for source in sources:
            into_directory = target.endswith("/") or len(sources) > 1
            image_path = posixpath.join(target, Path(source).name) if into_directory else target
            copies.append((posixpath.normpath(image_path), REPO / source))
    return tuple(copies)


def repo_path_in_image(image_path: str) -> Path | None:
    """The repo file the image holds at ``image_path``; None when the image copies nothing there."""
    for copied_to, source in image_copies():
        if image_path == copied_to:
            return source
        if image_path.startswith(copied_to + "/"):
            return source / posixpath.relpath(image_path, copied_to)
    return None


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context.

    Docker's rules, simplified: the last pattern that matches wins, ``!`` lets a path back in,
    and a pattern matching a directory covers everything inside it.
    """
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
            excluded = not pattern.startswith("!")
    return excluded


def check_command(argv: Sequence[str]) -> None:
    """Fail unless ``argv`` is a command line the image can run: a real script, real options."""
    script, *arguments = argv
    installed = Path(sys.executable).parent / script
    assert installed.exists(), f"{script} is not a console script installed with the project"
    if script == "benchsync":
        try:
            build_parser().parse_args(arguments)
        except SystemExit as error:
            raise AssertionError(f"benchsync rejects {list(argv)}") from error
        return
    # Files the command names are checked where the repo keeps them, not where the image does.
    arguments = [str(repo_path_in_image(word) or word) for word in arguments]
    (entry_point,) = entry_points(group="console_scripts", name=script)
    # Each Dagster CLI module keeps its click command as `cli`; its `main` only invokes it.
    command: click.Command = importlib.import_module(entry_point.module).cli
    while isinstance(command, click.Group):
        subcommand, *arguments = arguments
        assert subcommand in command.commands, f"{script} has no subcommand {subcommand}"
        command = command.commands[subcommand]
    try:
        command.make_context(script, arguments)
    except click.UsageError as error:
        raise AssertionError(f"{list(argv)}: {error.format_message()}") from error
