# syntax=docker/dockerfile:1
# One image for every benchsync service in docker-compose.yaml: the bridge, `benchsync db
# upgrade`, and the Dagster code server, webserver and daemon.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/benchsync
# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY benchsync/ benchsync/
COPY webhook_sensor_bridge/ webhook_sensor_bridge/
COPY benchsync_dagster/ benchsync_dagster/
COPY benchling_emulator/ benchling_emulator/
RUN pip install .

# The Dagster instance every Dagster process shares; storage/ is a volume in compose, where
# run workers in the code server write compute logs that the webserver reads.
COPY dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.docker.yaml /opt/dagster/home/workspace.yaml
COPY --chmod=0755 deploy/entrypoint.py /usr/local/bin/benchsync-entrypoint

RUN useradd --create-home --uid 10001 benchsync \
    && mkdir -p /opt/dagster/home/storage \
    && chown benchsync /opt/dagster/home /opt/dagster/home/storage
USER benchsync
# Run from DAGSTER_HOME, not the source tree, so the installed package is the one imported.
WORKDIR /opt/dagster/home

EXPOSE 8000 4000 3000
ENTRYPOINT ["benchsync-entrypoint"]
CMD ["benchsync", "bridge", "--host", "0.0.0.0", "--port", "8000"]
