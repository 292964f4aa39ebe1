# katflow's stand-in for python:3.11-slim where no image registry answers: Debian bookworm's
# python3.11 on a debootstrap base (deploy/local/docker.sh imports it as katflow/debian:bookworm).
# Built by deploy/local/docker.sh as katflow/python:3.11; the service Dockerfiles take it with
#   --build-arg PYTHON_IMAGE=katflow/python:3.11
ARG DEBIAN_IMAGE=katflow/debian:bookworm
FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
       python3.11 python3.11-venv python3-pip python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    # as in the official python images: pip may install into the system interpreter
    && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
# The host's CA bundle, after apt (ca-certificates rewrites this file): PyPI through this machine's
# TLS path. Copied only when the build context has it (docker.sh puts it there).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
