#!/bin/sh
# Makes keystore/testdata/upgrade/{signet.db,dump.rdb,keys.json} with the
# previous release's binary (built from commit 195cda7).
# Usage: make-fixtures.sh CADDY_OLD OUTDIR ADMIN_PORT SITE_PORT REDIS_PORT
set -eu
CADDY=$1 OUT=$2 ADMIN=127.0.0.1:$3 SITE=$4 RPORT=$5
W=$(mktemp -d)
mkdir -p "$W/data" "$W/config" "$W/redis" "$W/files/alice/shared"
echo a >"$W/files/alice/a.txt"
echo b >"$W/files/alice/shared/b.txt"
export XDG_DATA_HOME="$W/data" XDG_CONFIG_HOME="$W/config"

caddyfile() { # $1: the store line
	cat <<CF
{
	admin $ADMIN
	signet {
		$1
	}
}

http://127.0.0.1:$SITE {
	root * $W/files
	signet
	file_server
}
CF
}

# populate NAME: start Caddy with $W/NAME.Caddyfile, make the records, stop it.
populate() {
	"$CADDY" run --config "$W/$1.Caddyfile" --adapter caddyfile >"$W/$1.log" 2>&1 &
	pid=$!
	i=0
	until curl -fsS "http://$ADMIN/config/" >/dev/null 2>&1; do
		i=$((i+1)); [ $i -lt 100 ] || { cat "$W/$1.log"; exit 1; }; sleep 0.1
	done
	S() { "$CADDY" signet "$@" --json --address "$ADMIN"; }
	S keys create --name site-sign --scope / --permissions sign >"$W/$1.k1.json"
	S keys create --name alice-read --user alice --scope /alice/ --permissions read >"$W/$1.k2.json"
	S keys create --name alice-shared --user alice --scope /alice/shared/ --permissions sign >"$W/$1.k3.json"
	S keys create --name bob --user "Bob Smith" --scope /bob/ --permissions read >"$W/$1.k4.json"
	S keys create --name public --type public --scope /pub/ >"$W/$1.k5.json"
	# The first signature generates the signing secret; the second link is revoked.
	S sign /alice/a.txt --expires-in 7d --base-url http://files.example.com >"$W/$1.sign1.json"
	S sign /alice/shared/b.txt --expires-in 7d --base-url http://files.example.com >"$W/$1.sign2.json"
	S revoke "$(jq -r .url "$W/$1.sign2.json")" >"$W/$1.rev1.json"
	S revoke --prefix /bob/old/ >"$W/$1.rev2.json"
	"$CADDY" stop --address "$ADMIN"
	wait $pid
}

caddyfile "store file $W/signet.db" >"$W/file.Caddyfile"
populate file

redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$W/redis" --save "" --appendonly no --daemonize no >"$W/redis.log" 2>&1 &
rpid=$!
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.1; done
caddyfile "store redis redis://127.0.0.1:$RPORT/0" >"$W/redis.Caddyfile"
populate redis
redis-cli -p "$RPORT" SAVE
redis-cli -p "$RPORT" SHUTDOWN NOSAVE || true
wait $rpid || true

# keys.json: what the upgrade test checks, per store.
secret_id() { # the secret id in a signed URL's token: version byte, id length, id
	python3 -c 'import base64,sys,urllib.parse as u; t=u.parse_qs(u.urlparse(sys.argv[1]).query)["sig"][0]; b=base64.urlsafe_b64decode(t+"="*(-len(t)%4)); print(b[2:2+b[1]].decode())' "$1"
}
summary() { # $1: file or redis
	jq -s --arg sid "$(secret_id "$(jq -r .url "$W/$1.sign1.json")")" '{
		keys: [.[0:5][] | {id, key, name, type, user: (.user // ""), scopes, permissions}],
		secret_id: $sid,
		signed_url: .[5].url,
		revocations: [.[7].revocation, .[8].revocation]
	}' "$W/$1".k1.json "$W/$1".k2.json "$W/$1".k3.json "$W/$1".k4.json "$W/$1".k5.json \
		"$W/$1".sign1.json "$W/$1".sign2.json "$W/$1".rev1.json "$W/$1".rev2.json
}
mkdir -p "$OUT"
cp "$W/signet.db" "$OUT/signet.db"
cp "$W/redis/dump.rdb" "$OUT/dump.rdb"
jq -n --argjson f "$(summary file)" --argjson r "$(summary redis)" '{commit: "195cda7", file: $f, redis: $r}' >"$OUT/keys.json"
rm -rf "$W"
