# Stand-in for the official python:3.11-slim, built from Debian's packages for
# machines that cannot pull images. Paths match the official image: /usr/local
# is a venv, so /usr/local/bin/python, pip and site-packages are where apps expect.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv --system-site-packages /usr/local \
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \
 && /usr/local/bin/python -m pip --version
ENV LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
