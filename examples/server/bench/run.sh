#!/usr/bin/env bash
# The webhook benchmark of issue 10: builds in release, starts and stops every target, drives them all with
# the same load generator (examples/load.rs) and prints Markdown tables. See ../BENCHMARKS.md.
#
#   examples/server/bench/run.sh
#
# Knobs (environment): SECS (10, per run), CONNS (64, closed-loop connections), RATE (5000, offered req/s),
# RATE_LOW (1000, a second offered rate the servers can sustain; 0 = skip),
# INFLIGHT (1000, concurrent requests of the memory run), SSE_CLIENTS (1000), SSE_EVENTS (5),
# BENCH_RUST_LOG (server log level, default info = as shipped), BENCH_DIR (target/bench),
# CALLBOOK_TEST_DATABASE_URL (a Postgres server: a fresh database is created on it; unset = SQLite only).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BENCH=$ROOT/examples/server/bench
WORK=${BENCH_DIR:-$ROOT/target/bench}
SECS=${SECS:-10}
CONNS=${CONNS:-64}
RATE=${RATE:-5000}
RATE_LOW=${RATE_LOW:-1000}
INFLIGHT=${INFLIGHT:-1000}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_EVENTS=${SSE_EVENTS:-5}
TOKEN=bench-auth-token-0123456789abcdef
ACCOUNT=AC00000000000000000000000000000001
mkdir -p "$WORK"
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# SSE clients and 1,000 concurrent connections need file descriptors on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true
echo "fd limit: $(ulimit -n)" >&2

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${PG_OWN:-}" ] && [ -d "$PG_OWN/data" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_OWN/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

log() { echo "== $*" >&2; }
note() { printf '%s\n' "$1" >>"$RESULTS"; }

# ---- build (release) and the Python baseline's venv, both idempotent
log "building (release)"
(cd "$ROOT" && cargo build --release -p callbook-server --bin callbook --example load) >&2
BIN=$ROOT/target/release/callbook
LOAD=$ROOT/target/release/examples/load
if ! "$WORK/venv/bin/python" -c 'import flask, gunicorn, twilio' 2>/dev/null; then
  log "creating the Python venv ($WORK/venv)"
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q -r "$BENCH/requirements.txt" >&2
fi

note "{\"mode\":\"machine\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"nproc\":$(nproc),\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//;s/"//g')\",\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"kernel\":\"$(uname -r)\",\"twilio\":\"$("$WORK/venv/bin/python" -c 'import twilio;print(twilio.__version__)')\",\"secs\":$SECS,\"conns\":$CONNS,\"rate\":$RATE,\"rate_low\":$RATE_LOW,\"inflight\":$INFLIGHT}"

wait_up() { # URL: any HTTP answer
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
    [ "$code" != "000" ] && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The same generator against every target: closed loop at max throughput, then open loop at $RATE/s.
drive() { # LABEL BASE
  log "$1: max throughput ($CONNS connections, ${SECS}s)"
  "$LOAD" max --label "$1" --base "$2" --token "$TOKEN" --conns "$CONNS" --secs "$SECS" >>"$RESULTS"
  sleep 1
  log "$1: ${RATE}/s offered (${SECS}s)"
  "$LOAD" rate --label "$1" --base "$2" --token "$TOKEN" --rate "$RATE" --secs "$SECS" >>"$RESULTS"
  sleep 1
  if [ "$RATE_LOW" -gt 0 ]; then
    log "$1: ${RATE_LOW}/s offered (${SECS}s)"
    "$LOAD" rate --label "$1-low" --base "$2" --token "$TOKEN" --rate "$RATE_LOW" --secs "$SECS" >>"$RESULTS"
    sleep 1
  fi
}

# ---- (a) ceiling: axum, fixed TwiML
"$LOAD" ceiling --listen 127.0.0.1:18081 2>"$WORK/ceiling.log" &
PID=$!; PIDS+=("$PID")
wait_up http://127.0.0.1:18081/
drive ceiling http://127.0.0.1:18081
if command -v wrk >/dev/null; then
  # Calibration only: wrk (C, no signing) on the ceiling, to show what the Rust generator itself costs.
  log "ceiling: wrk calibration"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$BENCH/post.lua" http://127.0.0.1:18081/webhooks/twilio/voice \
    >"$WORK/wrk-ceiling.txt"
  note "$(awk -v conns="$CONNS" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
    END { printf "{\"mode\":\"wrk\",\"label\":\"ceiling\",\"rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"conns\":%s}", rps, p50, p99, conns }
  ' "$WORK/wrk-ceiling.txt")"
  sleep 1
fi
stop "$PID"

# ---- (b) Twilio's Python quickstart shape under gunicorn, 2 workers
(cd "$BENCH" && TWILIO_AUTH_TOKEN=$TOKEN exec "$WORK/venv/bin/gunicorn" -w 2 -b 127.0.0.1:18083 \
  --log-level warning quickstart:app) 2>"$WORK/flask.log" &
PID=$!; PIDS+=("$PID")
wait_up http://127.0.0.1:18083/
drive flask http://127.0.0.1:18083
stop "$PID"

# ---- the Callbook server: SQLite and Postgres
callbook() { # LABEL DATABASE_URL COUNT_COMMAND...
  local label=$1 db=$2; shift 2
  local data; data=$(mktemp -d "$WORK/data-$label.XXXX")
  local base=http://127.0.0.1:18080
  CALLBOOK_LISTEN=127.0.0.1:18080 CALLBOOK_PUBLIC_URL=$base CALLBOOK_DATA_DIR=$data \
    CALLBOOK_DATABASE_URL=${db:-sqlite://$data/callbook.db} \
    TWILIO_ACCOUNT_SID=$ACCOUNT TWILIO_AUTH_TOKEN=$TOKEN TWILIO_API_BASE_URL=http://127.0.0.1:9 \
    CALLBOOK_RATE_LIMIT_WEBHOOKS=off CALLBOOK_RATE_LIMIT_API=off \
    CALLBOOK_TRANSCRIBER=demo CALLBOOK_EXTRACTOR=rules RUST_LOG=${BENCH_RUST_LOG:-info} \
    "$BIN" serve 2>"$WORK/$label.log" &
  local pid=$!; PIDS+=("$pid")
  wait_up "$base/healthz"
  sleep 2
  local idle; idle=$(kb "$pid" VmRSS)
  drive "$label" "$base"
  # Memory with $INFLIGHT requests in progress at once: reset the peak, hold $INFLIGHT connections busy.
  local before; before=$(kb "$pid" VmRSS)
  echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
  log "$label: $INFLIGHT concurrent webhooks (5s)"
  "$LOAD" max --label "$label-inflight" --base "$base" --token "$TOKEN" --conns "$INFLIGHT" --secs 5 >>"$RESULTS"
  local peak; peak=$(kb "$pid" VmHWM)
  local after; after=$(kb "$pid" VmRSS)
  log "$label: $SSE_CLIENTS SSE clients"
  local admin; admin=$(cat "$data/admin.token")
  "$LOAD" sse --label "$label-sse" --base "$base" --token "$TOKEN" --admin "$admin" \
    --clients "$SSE_CLIENTS" --events "$SSE_EVENTS" >>"$RESULTS" || log "$label: SSE run failed"
  stop "$pid"
  local stored; stored=$("$@" "$data")
  note "{\"mode\":\"server\",\"label\":\"$label\",\"rss_idle_kb\":$idle,\"rss_before_inflight_kb\":$before,\"rss_peak_inflight_kb\":$peak,\"rss_after_kb\":$after,\"stored_calls\":$stored}"
  rm -rf "$data"
}
count_sqlite() { sqlite3 "$1/callbook.db" 'SELECT count(*) FROM calls'; }
callbook sqlite "" count_sqlite

# Postgres: CALLBOOK_TEST_DATABASE_URL when it answers, else a throwaway cluster with Postgres' default
# durability (fsync on, synchronous_commit on), when the Debian packages are installed and we are root.
PG_OWN=
if [ -n "${CALLBOOK_TEST_DATABASE_URL:-}" ] && ! psql "$CALLBOOK_TEST_DATABASE_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  log "CALLBOOK_TEST_DATABASE_URL does not answer: trying a throwaway cluster"
  unset CALLBOOK_TEST_DATABASE_URL
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "${CALLBOOK_TEST_DATABASE_URL:-}" ] && [ -n "$PGBIN" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  PG_OWN=$WORK/pg
  rm -rf "$PG_OWN"; mkdir -p "$PG_OWN"; chown postgres:postgres "$PG_OWN"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PG_OWN/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_OWN/data" -l "$PG_OWN/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p 55499 -k $PG_OWN -c max_connections=200" start >/dev/null
  CALLBOOK_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:55499/postgres
fi

if [ -n "${CALLBOOK_TEST_DATABASE_URL:-}" ]; then
  PG_SOURCE=CALLBOOK_TEST_DATABASE_URL
  [ -n "$PG_OWN" ] && PG_SOURCE="throwaway cluster"
  note "{\"mode\":\"pg\",\"label\":\"$PG_SOURCE\",\"settings\":\"$(psql "$CALLBOOK_TEST_DATABASE_URL" -qAtc "SELECT split_part(version(), ' ', 2) || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")\"}"
  DBNAME=callbook_bench_$(date +%s)
  psql "$CALLBOOK_TEST_DATABASE_URL" -qAtc "CREATE DATABASE $DBNAME" >&2
  PGURL=${CALLBOOK_TEST_DATABASE_URL%/*}/$DBNAME
  count_pg() { psql "$PGURL" -qAtc 'SELECT count(*) FROM calls'; }
  callbook postgres "$PGURL" count_pg
  psql "$CALLBOOK_TEST_DATABASE_URL" -qAtc "DROP DATABASE $DBNAME" >&2 || true
else
  log "CALLBOOK_TEST_DATABASE_URL is not set: Postgres skipped"
fi

if [ -n "$PG_OWN" ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_OWN/data" -m fast -w stop >/dev/null || true
  rm -rf "$PG_OWN"
fi
note "{\"mode\":\"machine_end\",\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
"$WORK/venv/bin/python" "$BENCH/report.py" "$RESULTS"
