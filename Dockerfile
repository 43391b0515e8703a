# One image for every benchsync service in docker-compose.yaml: the bridge, `benchsync db
# upgrade`, and the Dagster code server, webserver and daemon. No `# syntax=` line: fetching a
# frontend image from Docker Hub would make every build need it, and the builtin one suffices.
# Pinned by digest (docker-compose.yaml passes the same); `make compose-test` overrides it with
# a local stand-in where Docker Hub is out of reach.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/benchsync
# Every dependency, and setuptools (the build backend below), at the version of a tested install
# and only as a wheel whose sha256 deploy/requirements.txt lists (--require-hashes refuses any
# other file, and any package it does not pin); wheels only, so no dependency is built by an
# unpinned backend. A layer of its own: a change to benchsync's code rebuilds only the ones below.
COPY deploy/requirements.txt deploy/requirements.txt
RUN pip install --require-hashes --only-binary :all: --no-deps --requirement deploy/requirements.txt
# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY benchsync/ benchsync/
COPY benchsync_core/ benchsync_core/
COPY webhook_sensor_bridge/ webhook_sensor_bridge/
COPY benchsync_dagster/ benchsync_dagster/
COPY benchling_emulator/ benchling_emulator/
# benchsync itself, built by the pinned setuptools installed above (no isolated build fetching a
# backend of its own), with nothing downloaded; pip check: every dependency it needs is there.
RUN pip install --no-index --no-deps --no-build-isolation . && pip check

# The Dagster instance every Dagster process shares; storage/ is a volume in compose, where
# run workers in the code server write compute logs that the webserver reads.
COPY dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.docker.yaml /opt/dagster/home/workspace.yaml
COPY deploy/entrypoint.py /usr/local/bin/benchsync-entrypoint

# chmod rather than COPY --chmod, which the classic builder (no BuildKit) rejects.
RUN chmod 0755 /usr/local/bin/benchsync-entrypoint \
    && useradd --create-home --uid 10001 benchsync \
    && mkdir -p /opt/dagster/home/storage \
    && chown benchsync /opt/dagster/home /opt/dagster/home/storage
USER benchsync
# Run from DAGSTER_HOME, not the source tree, so the installed package is the one imported.
WORKDIR /opt/dagster/home

EXPOSE 8000 4000 3000
ENTRYPOINT ["benchsync-entrypoint"]
CMD ["benchsync", "bridge", "--host", "0.0.0.0", "--port", "8000"]
