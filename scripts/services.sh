#!/usr/bin/env bash
# Start, stop and check the real components batchwatch's tests and demo use,
# on 127.0.0.1, each with its own scratch folder under $BATCHWATCH_RUN_DIR
# (default .run/). Servers are started with setsid and stopped by PID.
#
#   scripts/services.sh start|stop|status [clickhouse|moto|prometheus|alertmanager|all]...
#
#   scripts/services.sh start|stop|status zookeeper|cluster|cluster1..cluster4
#   scripts/services.sh addrs   (the cluster's native addresses, comma-separated)
#
# Ports (override with the environment): CLICKHOUSE_TCP_PORT=9000
# CLICKHOUSE_HTTP_PORT=8123 MOTO_PORT=5000 PROMETHEUS_PORT=9090 ALERTMANAGER_PORT=9093.
# The cluster (not part of "all"): ZOOKEEPER_PORT=12181, four ClickHouse
# servers from CLUSTER_BASE_PORT=19300 (see cluster_port), cluster
# CLUSTER_NAME=batchwatch, user batchwatch with CLUSTER_PASSWORD=batchwatch.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run=${BATCHWATCH_RUN_DIR:-$root/.run}
mkdir -p "$run"

: "${CLICKHOUSE_TCP_PORT:=9000}" "${CLICKHOUSE_HTTP_PORT:=8123}" "${CLICKHOUSE_INTERSERVER_PORT:=9009}"
: "${ZOOKEEPER_PORT:=12181}" "${CLUSTER_BASE_PORT:=19300}" "${CLUSTER_NAME:=batchwatch}" "${CLUSTER_PASSWORD:=batchwatch}"
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

# clickhouse_config DIR TCP HTTP INTERSERVER: a private copy of the packaged
# config in DIR: data, tmp and logs in DIR, listening on 127.0.0.1 only.
clickhouse_config() {
  local dir=$1 tcp=$2 http=$3 inter=$4
  mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log,config.d,users.d}
  sed -e "s#<path>/var/lib/clickhouse/</path>#<path>$dir/data/</path>#" \
      -e "s#<tmp_path>/var/lib/clickhouse/tmp/</tmp_path>#<tmp_path>$dir/tmp/</tmp_path>#" \
      -e "s#<user_files_path>/var/lib/clickhouse/user_files/</user_files_path>#<user_files_path>$dir/user_files/</user_files_path>#" \
      -e "s#<format_schema_path>/var/lib/clickhouse/format_schemas/</format_schema_path>#<format_schema_path>$dir/format_schemas/</format_schema_path>#" \
      -e "s#/var/log/clickhouse-server/#$dir/log/#g" \
      -e "s#<http_port>8123</http_port>#<http_port>$http</http_port>#" \
      -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$tcp</tcp_port>#" \
      -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$inter</interserver_http_port>#" \
      -e "s#<listen_host>::1</listen_host>##" \
      -e "s#<!-- <listen_host>0.0.0.0</listen_host> -->#<listen_host>127.0.0.1</listen_host>#" \
      /etc/clickhouse-server/config.xml > "$dir/config.xml"
  cp /etc/clickhouse-server/users.xml "$dir/users.xml"
}

start_clickhouse() {
  command -v clickhouse-server >/dev/null || "$root/scripts/install.sh" clickhouse
  local dir=$run/clickhouse
  clickhouse_config "$dir" "$CLICKHOUSE_TCP_PORT" "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_INTERSERVER_PORT"
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

zk_ok() {
  local answer
  answer=$( (exec 3<>"/dev/tcp/127.0.0.1/$ZOOKEEPER_PORT" && printf ruok >&3 && timeout 2 cat <&3) 2>/dev/null) || true
  [ "$answer" = imok ]
}

# ZooKeeper for the replicated cluster: one server, data in $run/zookeeper.
start_zookeeper() {
  [ -d /usr/share/zookeeper ] || "$root/scripts/install.sh" zookeeper
  local dir=$run/zookeeper i
  mkdir -p "$dir/data"
  printf '%s\n' "tickTime=2000" "initLimit=10" "syncLimit=5" "dataDir=$dir/data" \
    "clientPort=$ZOOKEEPER_PORT" "clientPortAddress=127.0.0.1" "admin.enableServer=false" \
    "4lw.commands.whitelist=ruok,stat" > "$dir/zoo.cfg"
  setsid java -Dzookeeper.log.dir="$dir" -cp "/usr/share/java/*:/etc/zookeeper/conf" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >"$run/zookeeper.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile zookeeper)"
  for ((i = 0; i < 300; i++)); do
    zk_ok && return 0
    running zookeeper || { log "zookeeper exited during start; see $run/zookeeper.log"; tail -20 "$run/zookeeper.log" >&2; return 1; }
    sleep 0.1
  done
  log "zookeeper did not answer ruok on port $ZOOKEEPER_PORT within 30s"
  return 1
}

# The cluster: replicas cluster1..cluster4 of $CLUSTER_NAME, shard 1 =
# cluster1+cluster2, shard 2 = cluster3+cluster4. Replica N listens on
# CLUSTER_BASE_PORT+10*(N-1) (native), +1 (HTTP), +2 (interserver).
cluster_port() { echo $((CLUSTER_BASE_PORT + 10 * ($1 - 1) + $2)); }

# cluster_xml N: zookeeper, macros (cluster, shard, replica), interserver
# host, distributed DDL and remote_servers; Distributed tables connect to
# the replicas as the batchwatch user.
cluster_xml() {
  local n=$1 s r
  s=$(( (n + 1) / 2 )); r=$(( (n + 1) % 2 + 1 ))
  printf '<yandex>\n  <zookeeper><node><host>127.0.0.1</host><port>%s</port></node></zookeeper>\n' "$ZOOKEEPER_PORT"
  printf '  <macros><cluster>%s</cluster><shard>%s</shard><replica>s%sr%s</replica></macros>\n' "$CLUSTER_NAME" "$s" "$s" "$r"
  printf '  <interserver_http_host>127.0.0.1</interserver_http_host>\n'
  printf '  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n'
  printf '  <remote_servers>\n    <%s>\n' "$CLUSTER_NAME"
  for s in 1 2; do
    printf '      <shard>\n        <internal_replication>true</internal_replication>\n'
    for r in 1 2; do
      printf '        <replica><host>127.0.0.1</host><port>%s</port><user>batchwatch</user><password>%s</password></replica>\n' \
        "$(cluster_port $(( 2 * s + r - 2 )) 0)" "$CLUSTER_PASSWORD"
    done
    printf '      </shard>\n'
  done
  printf '    </%s>\n  </remote_servers>\n</yandex>\n' "$CLUSTER_NAME"
}

# start_cluster_replica N: one server of the cluster (ZooKeeper first). The
# default profile allows LowCardinality (on 18.16, ON CLUSTER DDL runs with
# the server's profile, not the client's settings) and runs IN and JOIN
# subqueries on Distributed tables against each shard's local tables
# (distributed_product_mode: a string setting 18.16's clients cannot send;
# exact because the rows of a job share a shard), and reads its own shard
# through a connection (prefer_localhost_replica=0: 18.16 fails FINAL with
# ORDER BY on a Distributed table otherwise; batchwatch sends it too, the
# profile covers Grafana and clickhouse-client).
start_cluster_replica() {
  local n=$1 dir=$run/cluster$1
  command -v clickhouse-server >/dev/null || "$root/scripts/install.sh" clickhouse
  running zookeeper || start zookeeper
  clickhouse_config "$dir" "$(cluster_port "$n" 0)" "$(cluster_port "$n" 1)" "$(cluster_port "$n" 2)"
  cluster_xml "$n" > "$dir/config.d/cluster.xml"
  printf '%s\n' "<yandex><users><batchwatch>" "  <password>$CLUSTER_PASSWORD</password>" \
    "  <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>" \
    "  <profile>default</profile><quota>default</quota>" "</batchwatch></users>" \
    "<profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>" \
    "<distributed_product_mode>local</distributed_product_mode>" \
    "<prefer_localhost_replica>0</prefer_localhost_replica></default></profiles>" \
    "</yandex>" > "$dir/users.d/batchwatch.xml"
  setsid clickhouse-server --config-file="$dir/config.xml" >"$run/cluster$n.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "cluster$n")"
  wait_http "cluster$n" "http://127.0.0.1:$(cluster_port "$n" 1)/ping" 60
}
start_cluster1() { start_cluster_replica 1; }
start_cluster2() { start_cluster_replica 2; }
start_cluster3() { start_cluster_replica 3; }
start_cluster4() { start_cluster_replica 4; }

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
expanded=()
for n in "${names[@]}"; do
  if [ "$n" = cluster ]; then
    # Stopping the cluster stops ZooKeeper after the servers.
    if [ "$action" = stop ]; then expanded+=(cluster1 cluster2 cluster3 cluster4 zookeeper)
    else expanded+=(zookeeper cluster1 cluster2 cluster3 cluster4); fi
  else expanded+=("$n"); fi
done
case "$action" in
  start|stop|status) for n in "${expanded[@]}"; do "$action" "$n"; done ;;
  addrs) echo "127.0.0.1:$(cluster_port 1 0),127.0.0.1:$(cluster_port 2 0),127.0.0.1:$(cluster_port 3 0),127.0.0.1:$(cluster_port 4 0)" ;;
  *) echo "usage: $0 start|stop|status [clickhouse|moto|prometheus|alertmanager|zookeeper|cluster|cluster1..4|all]... | addrs" >&2; exit 2 ;;
esac
