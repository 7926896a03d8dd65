#!/usr/bin/env bash
# Start, stop and check the real components batchwatch's tests and demo use,
# on 127.0.0.1, each with its own scratch folder under $BATCHWATCH_RUN_DIR
# (default .run/). Servers are started with setsid and stopped by PID.
#
#   scripts/services.sh start|stop|status [clickhouse|moto|prometheus|alertmanager|all]...
#
# Ports (override with the environment): CLICKHOUSE_TCP_PORT=9000
# CLICKHOUSE_HTTP_PORT=8123 MOTO_PORT=5000 PROMETHEUS_PORT=9090 ALERTMANAGER_PORT=9093.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run=${BATCHWATCH_RUN_DIR:-$root/.run}
mkdir -p "$run"

: "${CLICKHOUSE_TCP_PORT:=9000}" "${CLICKHOUSE_HTTP_PORT:=8123}" "${CLICKHOUSE_INTERSERVER_PORT:=9009}"
: "${MOTO_PORT:=5000}" "${PROMETHEUS_PORT:=9090}" "${ALERTMANAGER_PORT:=9093}"

log() { printf '%s services: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

pidfile() { echo "$run/$1.pid"; }

running() {
  local pf; pf=$(pidfile "$1")
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# wait_http NAME URL SECONDS: poll URL until it answers 2xx.
wait_http() {
  local name=$1 url=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! running "$name"; then
      log "$name exited during start; see $run/$name.log"; tail -20 "$run/$name.log" >&2 || true; return 1
    fi
    sleep 0.1
  done
  log "$name did not answer $url within ${secs}s; see $run/$name.log"
  return 1
}

start_clickhouse() {
  command -v clickhouse-server >/dev/null || "$root/scripts/install.sh" clickhouse
  local dir=$run/clickhouse
  mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
  # A private copy of the packaged config: data, tmp and logs in the scratch
  # folder, listening on 127.0.0.1 only.
  sed -e "s#<path>/var/lib/clickhouse/</path>#<path>$dir/data/</path>#" \
      -e "s#<tmp_path>/var/lib/clickhouse/tmp/</tmp_path>#<tmp_path>$dir/tmp/</tmp_path>#" \
      -e "s#<user_files_path>/var/lib/clickhouse/user_files/</user_files_path>#<user_files_path>$dir/user_files/</user_files_path>#" \
      -e "s#<format_schema_path>/var/lib/clickhouse/format_schemas/</format_schema_path>#<format_schema_path>$dir/format_schemas/</format_schema_path>#" \
      -e "s#/var/log/clickhouse-server/#$dir/log/#g" \
      -e "s#<http_port>8123</http_port>#<http_port>$CLICKHOUSE_HTTP_PORT</http_port>#" \
      -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>#" \
      -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$CLICKHOUSE_INTERSERVER_PORT</interserver_http_port>#" \
      -e "s#<listen_host>::1</listen_host>##" \
      -e "s#<!-- <listen_host>0.0.0.0</listen_host> -->#<listen_host>127.0.0.1</listen_host>#" \
      /etc/clickhouse-server/config.xml > "$dir/config.xml"
  cp /etc/clickhouse-server/users.xml "$dir/users.xml"
  # CLICKHOUSE_USERS_D: a folder of users.d files to add (deploy/clickhouse/users.d).
  rm -rf "$dir/users.d"
  if [ -n "${CLICKHOUSE_USERS_D:-}" ]; then mkdir -p "$dir/users.d" && cp "$CLICKHOUSE_USERS_D"/*.xml "$dir/users.d/"; fi
  # CLICKHOUSE_CONFIG_D: a folder of config.d files to add (e.g. TLS).
  rm -rf "$dir/config.d"
  if [ -n "${CLICKHOUSE_CONFIG_D:-}" ]; then mkdir -p "$dir/config.d" && cp "$CLICKHOUSE_CONFIG_D"/*.xml "$dir/config.d/"; fi
  setsid clickhouse-server --config-file="$dir/config.xml" >"$run/clickhouse.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile clickhouse)"
  wait_http clickhouse "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 60
}

start_moto() {
  command -v moto_server >/dev/null || { log "moto_server not found (moto 5.x is expected on this machine)"; return 1; }
  setsid moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$run/moto.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile moto)"
  wait_http moto "http://127.0.0.1:$MOTO_PORT/moto-api/" 30
}

start_prometheus() {
  command -v prometheus >/dev/null || "$root/scripts/install.sh" prometheus
  local dir=$run/prometheus cfg=${PROMETHEUS_CONFIG:-$run/prometheus/prometheus.yml}
  mkdir -p "$dir/data"
  [ -f "$cfg" ] || printf 'global:\n  scrape_interval: 5s\nscrape_configs: []\n' > "$cfg"
  setsid prometheus --config.file="$cfg" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
    >"$run/prometheus.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile prometheus)"
  wait_http prometheus "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 30
}

start_alertmanager() {
  command -v prometheus-alertmanager >/dev/null || "$root/scripts/install.sh" prometheus
  local dir=$run/alertmanager cfg=${ALERTMANAGER_CONFIG:-$root/deploy/alertmanager/alertmanager.yml}
  mkdir -p "$dir/data"
  setsid prometheus-alertmanager --config.file="$cfg" --storage.path="$dir/data" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address= \
    >"$run/alertmanager.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile alertmanager)"
  wait_http alertmanager "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" 30
}

start() {
  if running "$1"; then log "$1 already running (pid $(cat "$(pidfile "$1")"))"; return 0; fi
  log "starting $1"
  "start_$1"
  log "$1 running (pid $(cat "$(pidfile "$1")"))"
}

stop() {
  local pf pid i; pf=$(pidfile "$1")
  [ -f "$pf" ] || return 0
  pid=$(cat "$pf")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
}

status() {
  if running "$1"; then echo "$1 running (pid $(cat "$(pidfile "$1")"))"; else echo "$1 stopped"; fi
}

action=${1:-}
shift || true
names=("$@")
[ ${#names[@]} -eq 0 ] || [ "${names[0]}" = all ] && names=(clickhouse moto prometheus alertmanager)
case "$action" in
  start|stop|status) for n in "${names[@]}"; do "$action" "$n"; done ;;
  *) echo "usage: $0 start|stop|status [clickhouse|moto|prometheus|alertmanager|all]..." >&2; exit 2 ;;
esac
