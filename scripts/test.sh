#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what is missing on a
# fresh Debian machine (Go, ClickHouse, Prometheus, Alertmanager, docker-compose,
# debootstrap for the Docker stack test, ZooKeeper for the cluster tests, which
# start their own servers; the Docker engine is the machine's),
# starts the real servers the tests use on 127.0.0.1, runs vet, the unit tests
# with the race detector, and every test — unit and integration — and stops the
# servers it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install.sh go clickhouse prometheus compose docker zookeeper
export PATH="/usr/local/go/bin:$PATH"

# Only stop what this run started (a developer may have servers running).
started=()
cleanup() {
  if [ ${#started[@]} -gt 0 ]; then scripts/services.sh stop "${started[@]}" || true; fi
}
trap cleanup EXIT
for s in clickhouse moto; do
  if ! scripts/services.sh status "$s" | grep -q running; then
    scripts/services.sh start "$s"
    started+=("$s")
  fi
done

echo "== go vet" >&2
go vet ./... && go vet -tags integration ./...
echo "== go test -race (unit)" >&2
CGO_ENABLED=1 go test -race -count=1 -timeout 25m ${GOTESTFLAGS:-} ./...
echo "== go test (unit and integration)" >&2
go test -tags integration -count=1 -timeout 25m ${GOTESTFLAGS:-} ./...
