#!/usr/bin/env bash
# A private Redis for a cluster of chat servers: its own directory under .run/, no systemd.
#   scripts/redis.sh start|stop|status [RUN_DIR] [PORT]
# RUN_DIR defaults to $CHAT_RUN_DIR/redis or <repo>/.run/redis; PORT to $CHAT_REDIS_PORT or
# 6390. It listens on 127.0.0.1 only, with protected mode on, and on a unix socket in RUN_DIR
# (mode 0700). A cluster across machines needs a password, TLS or a private network (README).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-status}"
run_dir="$(realpath -m -- "${2:-${CHAT_RUN_DIR:-$repo/.run}/redis}")"
port="${3:-${CHAT_REDIS_PORT:-6390}}"
sock="$run_dir/redis.sock"
pidf="$run_dir/redis.pid"
log="$run_dir/redis.log"

# The pid file's process is alive and really is a Redis server (a reused PID is never signalled).
alive() {
  local pid
  [ -f "$pidf" ] || return 1
  pid="$(cat "$pidf" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  case "$(cat "/proc/$pid/comm" 2>/dev/null || echo redis-server)" in
    redis-server) return 0 ;;
    *) return 1 ;;
  esac
}

ping_redis() {
  redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG
}

case "$cmd" in
  start)
    mkdir -p "$run_dir" && chmod 700 "$run_dir"
    if alive && ping_redis; then
      echo "redis: already running (pid $(cat "$pidf"), port $port, socket $sock)"
      exit 0
    fi
    rm -f "$sock"
    # No persistence: MariaDB is the truth; Redis only carries what was committed there.
    setsid redis-server --bind 127.0.0.1 --port "$port" --unixsocket "$sock" \
      --unixsocketperm 700 --dir "$run_dir" --pidfile "$pidf" --logfile "$log" \
      --daemonize no --save "" --appendonly no --protected-mode yes \
      </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 100); do
      if ping_redis; then echo "redis: up (pid $(cat "$pidf" 2>/dev/null), port $port)"; exit 0; fi
      sleep 0.1
    done
    echo "redis: did not come up" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
    ;;
  stop)
    if ! alive; then echo "redis: not running"; exit 0; fi
    pid="$(cat "$pidf")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || { echo "redis: stopped"; exit 0; }
      sleep 0.1
    done
    echo "redis: pid $pid still running" >&2
    exit 1
    ;;
  status)
    if alive && ping_redis; then echo "redis: running (pid $(cat "$pidf"), port $port)"; else echo "redis: stopped"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status [RUN_DIR] [PORT]" >&2
    exit 2
    ;;
esac
