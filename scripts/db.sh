#!/usr/bin/env bash
# A private MariaDB for the chat: its own datadir and socket under .run/, no systemd, no TCP.
#   scripts/db.sh start|stop|status [RUN_DIR]
# RUN_DIR defaults to $CHAT_RUN_DIR/mariadb or <repo>/.run/mariadb. Root inside this instance
# has no password but is reachable only through the private socket (mode 0700 directory).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-status}"
run_dir="${2:-${CHAT_RUN_DIR:-$repo/.run}/mariadb}"
data="$run_dir/data"
sock="$run_dir/mysqld.sock"
pidf="$run_dir/mysqld.pid"
log="$run_dir/mysqld.err"
me="$(id -un)"

alive() {
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

ping_db() {
  mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1
}

case "$cmd" in
  start)
    if alive && ping_db; then
      echo "mariadb: already running (pid $(cat "$pidf"), socket $sock)"
      exit 0
    fi
    mkdir -p "$run_dir"
    chmod 700 "$run_dir"
    if [ ! -d "$data/mysql" ]; then
      echo "mariadb: initialising $data"
      mariadb-install-db --no-defaults --datadir="$data" --user="$me" \
        --auth-root-authentication-method=normal --skip-test-db >"$run_dir/install.log" 2>&1 \
        || { cat "$run_dir/install.log"; exit 1; }
    fi
    rm -f "$sock"
    setsid mariadbd --no-defaults --user="$me" --datadir="$data" --socket="$sock" \
      --pid-file="$pidf" --skip-networking --log-error="$log" \
      --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --max-connections=500 </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
      if ping_db; then
        echo "mariadb: up (pid $(cat "$pidf" 2>/dev/null), socket $sock)"
        exit 0
      fi
      sleep 0.5
    done
    echo "mariadb: did not come up; last log lines:" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
    ;;
  stop)
    if ! alive; then
      echo "mariadb: not running"
      exit 0
    fi
    pid="$(cat "$pidf")"
    mariadb-admin --no-defaults --socket="$sock" -uroot shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
      kill -0 "$pid" 2>/dev/null || { echo "mariadb: stopped"; exit 0; }
      sleep 0.5
    done
    echo "mariadb: pid $pid still running after 60 s" >&2
    exit 1
    ;;
  status)
    if alive && ping_db; then echo "mariadb: running (pid $(cat "$pidf"), socket $sock)"; else echo "mariadb: stopped"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status [RUN_DIR]" >&2
    exit 2
    ;;
esac
