# One image for the third-party services of the Docker stack test, from
# Debian's packages on a Debian base built with debootstrap (no registry is
# reachable): ClickHouse 18.16, Prometheus 2.42, Alertmanager 0.25, and wget
# for their healthchecks. One apt-get run keeps the build short; the compose
# override gives each service its binary as entrypoint (Debian's packages
# start nothing).
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clickhouse-server clickhouse-client prometheus prometheus-alertmanager wget \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/log/clickhouse-server /etc/clickhouse-server/users.d
# The packaged ClickHouse config listens on localhost only.
COPY listen.xml /etc/clickhouse-server/config.d/listen.xml
