# TEST-ONLY STAND-IN for python:3.11-slim, built by deploy/compose-test/run.sh where Docker Hub
# cannot be reached (`make compose-test`), and tagged benchsync-compose-test/python:3.11 (Debian's
# Python 3.11). Users pull the real image; nothing else uses this.
# It offers what benchsync's Dockerfile uses of the real one: `python` and `pip` on the PATH,
# `pip install` into the image's own Python, and `useradd`.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.description="benchsync compose-test stand-in: Python 3.11 (Debian), in place of python:3.11-slim"

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/python
# The CA bundle of the machine building it, which may trust a proxy between it and PyPI (apart
# from Debian's, which the packages above may regenerate).
COPY ca-certificates.crt /etc/ssl/certs/build-host-ca-certificates.crt

# A venv first on the PATH stands in for the real image's /usr/local Python: Debian's own
# Python refuses `pip install` outside one (PEP 668).
ENV PATH=/opt/python/bin:$PATH \
    LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/build-host-ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/build-host-ca-certificates.crt
CMD ["python3"]
