#!/usr/bin/env bash
# Load test of a running Signet on loopback, with wrk (Debian package
# "wrk"). It builds ./cmd/caddy, starts it on free loopback ports with the
# embedded store in a temp dir, creates a key, and measures:
#   sign    POST /_signet/v1/files/…/signed-url   (signatures per second)
#   bearer  GET of a file with an API key
#   signed  GET of a file with a signed URL
#   maxuses GET of a file with a max_uses link (each GET takes a use in the
#           store; the limit is high enough never to be reached)
#   open    GET of the same file on a route without signet (baseline)
# Every link signed goes into the ledger. STORE=redis runs the same on a
# redis-server started on a free loopback port (instead of the embedded
# store).
# Usage: [STORE=file|redis] bench/load.sh [seconds per run, default 10] [connections, default 32]
# Every request goes to 127.0.0.1 only; each run is bounded by its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONNS=${2:-32}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

go build -o bin/caddy ./cmd/caddy
tmp=$(mktemp -d)
trap 'bin/caddy stop --address 127.0.0.1:$ADMIN >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ADMIN=$(free_port); PORT=$(free_port); OPEN=$(free_port)
STORE=${STORE:-file}
store="store file $tmp/signet.db"
if [ "$STORE" = redis ]; then
	command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
	RPORT=$(free_port)
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
		--pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" >/dev/null
	trap 'bin/caddy stop --address 127.0.0.1:$ADMIN >/dev/null 2>&1 || true; kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"' EXIT
	for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	store="store redis redis://127.0.0.1:$RPORT"
fi
cat > "$tmp/Caddyfile" <<CFG
{
	admin 127.0.0.1:$ADMIN
	persist_config off
	signet {
		$store
		last_used_interval off
	}
}
:$PORT {
	bind 127.0.0.1
	root * $PWD/example/files
	signet {
		rate_limit key off
		rate_limit client off
	}
	file_server
}
:$OPEN {
	bind 127.0.0.1
	root * $PWD/example/files
	file_server
}
CFG
XDG_DATA_HOME=$tmp XDG_CONFIG_HOME=$tmp bin/caddy start --config "$tmp/Caddyfile" --adapter caddyfile >/dev/null 2>&1
key=$(bin/caddy signet keys create --name load --permissions sign --json --address 127.0.0.1:$ADMIN |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
base=http://127.0.0.1:$PORT
url=$(curl -sf -X POST -H "Authorization: Bearer $key" -d '{"expires_in": 3600}' "$base/_signet/v1/files/reports/q1.txt/signed-url" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
curl -sf -o /dev/null "$url"
counted=$(curl -sf -X POST -H "Authorization: Bearer $key" -d '{"expires_in": 3600, "max_uses": 1000000}' "$base/_signet/v1/files/reports/q1.txt/signed-url" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
curl -sf -o /dev/null "$counted"

run() { # name, wrk args...
	local name=$1; shift
	local out; out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$@")
	local rps; rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	local p50; p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	local p99; p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	local errs; errs=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	printf '%-7s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errs:-0}"
}
echo "wrk -t2 -c$CONNS -d${DUR}s on $(nproc) cores, $(go version | cut -d' ' -f3), store $STORE"
SIGNET_KEY=$key run sign -s bench/sign.lua "$base/_signet/v1/files/reports/q1.txt/signed-url"
run bearer -H "Authorization: Bearer $key" "$base/reports/q1.txt"
run signed "$url"
run maxuses "$counted"
run open "http://127.0.0.1:$OPEN/reports/q1.txt"
