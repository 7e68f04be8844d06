#!/usr/bin/env bash
# A private MariaDB for the chat: its own datadir and socket under .run/, no systemd, no TCP.
#   scripts/db.sh start|stop|status [RUN_DIR]
# RUN_DIR defaults to $CHAT_RUN_DIR/mariadb or <repo>/.run/mariadb. Root inside this instance
# has no password but is reachable only through the private socket (mode 0700 directory).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-status}"
run_dir="${2:-${CHAT_RUN_DIR:-$repo/.run}/mariadb}"
run_dir="$(realpath -m -- "$run_dir")"  # mariadbd changes into its datadir: paths must be absolute
data="$run_dir/data"
sock="$run_dir/mysqld.sock"
pidf="$run_dir/mysqld.pid"
log="$run_dir/mysqld.err"
me="$(id -un)"

# The pid file's process is alive and really is a MariaDB server (a stale file whose PID was
# reused by something else must not count, and must never be signalled).
alive() {
  local pid
  [ -f "$pidf" ] || return 1
  pid="$(cat "$pidf" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  case "$(cat "/proc/$pid/comm" 2>/dev/null || echo mariadbd)" in
    mariadbd | mysqld) return 0 ;;
    *) return 1 ;;
  esac
}

wait_ping() {  # [PID]: up to 60 s, or until PID (the server being started) exits
  for _ in $(seq 1 120); do
    ping_db && return 0
    if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null && ! alive; then
      ping_db && return 0
      return 1
    fi
    sleep 0.5
  done
  return 1
}

log_tail() {
  echo "mariadb: last log lines ($log):" >&2
  tail -n 30 "$log" >&2 || true
}

ping_db() {
  mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1
}

# start and stop are serialised per RUN_DIR, so two callers (two test sessions, `make db` twice in
# parallel) can never start two servers on one datadir.
if [ "$cmd" = start ] || [ "$cmd" = stop ]; then
  if [ "$cmd" = start ]; then mkdir -p "$run_dir" && chmod 700 "$run_dir"; fi
  if [ -d "$run_dir" ] && command -v flock >/dev/null 2>&1; then
    exec 9>"$run_dir/.lock"
    flock -w 120 9 || { echo "mariadb: $run_dir is locked by another db.sh" >&2; exit 1; }
  fi
fi

case "$cmd" in
  start)
    if alive; then
      # Running (perhaps still starting, or started by a concurrent caller): never start a
      # second server on the same datadir, and never remove a live server's socket.
      if wait_ping; then
        echo "mariadb: already running (pid $(cat "$pidf"), socket $sock)"
        exit 0
      fi
      echo "mariadb: pid $(cat "$pidf") is alive but does not answer on $sock" >&2
      log_tail
      exit 1
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
      --max-connections=500 </dev/null >/dev/null 2>&1 9>&- &
    if wait_ping "$!"; then
      echo "mariadb: up (pid $(cat "$pidf" 2>/dev/null), socket $sock)"
      exit 0
    fi
    echo "mariadb: did not come up" >&2
    log_tail
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
