#!/usr/bin/env bash
# Install what batchwatch's demo and tests need on a fresh Debian machine:
# Go (from the Go module proxy's toolchain zips when missing or too old, with
# the C compiler its race detector needs) and the Debian packages of
# ClickHouse, Prometheus, Alertmanager, docker-compose (for offline validation
# of the compose file), debootstrap (the Debian base image of the Docker
# stack test) and ZooKeeper (for the replicated cluster the cluster tests
# start).
#
#   scripts/install.sh [go|clickhouse|prometheus|compose|docker|zookeeper|all]...
#   scripts/install.sh proxy    # print the module proxy Go would come from
#
# Go comes from the module proxy the machine is configured with: the first
# URL of $GOPROXY, else of `go env GOPROXY` (an older Go), else
# https://proxy.golang.org.
set -euo pipefail

GO_VERSION=${GO_VERSION:-1.26.8}
log() { printf '%s install: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then sudo_ apt-get update -qq; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# module_proxy prints the first http(s) entry of GOPROXY's list (entries are
# separated by , or |; "direct" and "off" are no proxy).
module_proxy() {
  local list=${GOPROXY:-}
  if [ -z "$list" ] && command -v go >/dev/null; then list=$(go env GOPROXY 2>/dev/null || true); fi
  [ -n "$list" ] || list=https://proxy.golang.org
  local entry
  for entry in $(printf '%s' "$list" | tr ',|' '  '); do
    case "$entry" in
      http://*|https://*) printf '%s\n' "${entry%/}"; return 0 ;;
    esac
  done
  log "GOPROXY=$list names no proxy URL (only direct/off): set GOPROXY to the module proxy to fetch Go from"
  return 1
}

install_proxy() { module_proxy; }

install_go() {
  # The race detector (go test -race, run by scripts/test.sh) needs cgo.
  command -v gcc >/dev/null || apt_install gcc libc6-dev
  local have=""
  if command -v go >/dev/null; then have=$(go env GOVERSION 2>/dev/null | sed 's/^go//'); fi
  if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$GO_VERSION" "$have" | sort -V | head -1)" = "$GO_VERSION" ]; then
    return 0
  fi
  apt_install curl unzip ca-certificates
  local arch; arch=$(dpkg --print-architecture)
  local proxy; proxy=$(module_proxy)
  local url="$proxy/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-${arch}.zip"
  log "installing Go $GO_VERSION from $url"
  local tmp; tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/go.zip" "$url"
  unzip -q "$tmp/go.zip" -d "$tmp"
  sudo_ rm -rf /usr/local/go
  sudo_ mv "$tmp/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch}" /usr/local/go
  sudo_ chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
  rm -rf "$tmp"
  log "Go installed: $(/usr/local/go/bin/go version)"
}

install_clickhouse() { apt_install curl clickhouse-server clickhouse-client; }
install_prometheus() { apt_install curl prometheus prometheus-alertmanager; }
install_compose() { apt_install docker-compose; }
# The Docker stack test (deploy/docker_integration_test.go): a Debian base
# image from debootstrap; the engine itself is the machine's.
install_docker() { apt_install debootstrap docker-compose; }
install_zookeeper() { apt_install zookeeper; }

names=("$@")
[ ${#names[@]} -eq 0 ] || [ "${names[0]}" = all ] && names=(go clickhouse prometheus compose docker zookeeper)
for n in "${names[@]}"; do "install_$n"; done
