#!/usr/bin/env bash
# scripts/bench-history-generate.sh SEED_DB DB DAYS EVENT_DAYS: copies the one
# day of history in SEED_DB (replayed through batchwatch ingest) into DB
# DAYS times, day d shifted d days back with new ids (the first four hex
# digits of every id become d), and the events of the first EVENT_DAYS days
# (their raw JSON only on day 0).
# DB must exist with batchwatch's tables. Copies run in chunks of 10 days;
# a chunk already present in DB (its first day's jobs) is skipped, so an
# interrupted run can be started again.
set -euo pipefail
seed=$1 db=$2 days=$3 event_days=$4
ch() { clickhouse-client --host "${CH_HOST:-127.0.0.1}" --port "${CH_PORT:-9000}" "$@"; }

# select_list TABLE: the table's columns, ids rewritten and times shifted by d days.
select_list() {
	ch -q "SELECT name, type FROM system.columns WHERE database = '$seed' AND table = '$1'" --format TSV |
		while IFS=$'\t' read -r name type; do
			case "$name" in
			job_id | array_parent_id | node_parent_id | event_id | last_event_id)
				echo "if(d = 0 OR $name = '', $name, concat(lower(substring(hex(toUInt32(d + 65536)), 3)), substring($name, 5))) AS $name" ;;
			raw)
				# The raw JSON only of day 0: copying 40 GB of it costs most of
				# the generation and no query reads it.
				echo "if(d = 0, raw, '') AS raw" ;;
			depends_on)
				echo "arrayMap(x -> if(d = 0, x, concat(lower(substring(hex(toUInt32(d + 65536)), 3)), substring(x, 5))), $name) AS $name" ;;
			*)
				case "$type" in
				DateTime*) echo "$name - d * 86400 AS $name" ;;
				*)
					case "$name" in
					*_at_ms | event_time_ms) echo "if($name = 0, 0, $name - d * 86400000) AS $name" ;;
					*) echo "$name" ;;
					esac ;;
				esac ;;
			esac
		done | paste -sd, -
}

copy() { # table total_days
	local table=$1 total=$2 cols names from=0
	cols=$(select_list "$table")
	names=$(ch -q "SELECT name FROM system.columns WHERE database = '$seed' AND table = '$table'" | paste -sd, -)
	while [ "$from" -lt "$total" ]; do
		local n=$((total - from < 10 ? total - from : 10))
		local probe
		# The copy of the seed's first job on the chunk's first day, looked
		# up by the sort key (job_queue, job_id).
		probe=$(ch -q "SELECT count() FROM $db.$table WHERE (job_queue, job_id) IN (SELECT job_queue, if($from = 0, job_id, concat(lower(substring(hex(toUInt32($from + 65536)), 3)), substring(job_id, 5))) FROM (SELECT job_queue, job_id FROM $seed.$table ORDER BY job_queue, job_id LIMIT 1))")
		if [ "$probe" = 0 ]; then
			local t0=$SECONDS
			ch -q "INSERT INTO $db.$table ($names) SELECT $cols FROM $seed.$table ARRAY JOIN arrayMap(x -> x + $from, range($n)) AS d"
			echo "$table: days $from-$((from + n - 1)) of $total copied in $((SECONDS - t0)) s" >&2
		fi
		from=$((from + n))
	done
}

copy jobs "$days"
copy attempts "$days"
copy events "$event_days"
