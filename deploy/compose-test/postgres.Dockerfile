# TEST-ONLY STAND-IN for postgres:16, built by deploy/compose-test/run.sh where Docker Hub cannot
# be reached (`make compose-test`), and tagged benchsync-compose-test/postgres:15 for what it is:
# Debian's PostgreSQL 15 with an entrypoint doing what docker-compose.yaml uses of the official
# one (postgres-entrypoint.sh says what). Users pull the real image; nothing else uses this.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.description="benchsync compose-test stand-in: PostgreSQL 15 (Debian), in place of postgres:16"

# No cluster from the package: the entrypoint makes one in PGDATA, as the official image does.
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql

# chmod rather than COPY --chmod, which the classic builder (no BuildKit) rejects.
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    LANG=C.UTF-8 \
    PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
# As the official image: SIGINT is Postgres's fast shutdown.
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
