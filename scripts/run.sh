#!/usr/bin/env bash
# Runs the server in the foreground-ish and, when a display exists, a login window per demo
# user. Ctrl+C stops the server, the windows and the database this script's `make run` started.
# NODES=N (default 1): N server processes share the port (SO_REUSEPORT) and a private Redis
# (scripts/redis.sh) tells each what the others committed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/db.sh stop
  if [ "$nodes" -gt 1 ]; then scripts/redis.sh stop; fi
}
trap cleanup INT TERM EXIT

nodes="${NODES:-1}"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "NODES must be a positive number" >&2; exit 2; }
if [ "$nodes" -gt 1 ]; then
  scripts/redis.sh start || exit 1
  export CHAT_REDIS_URL="${CHAT_REDIS_URL:-unix://$PWD/.run/redis/redis.sock}"
  export CHAT_REUSE_PORT=true
fi
for _ in $(seq 1 "$nodes"); do
  $PY -m server serve &
  pids+=("$!")
done
server_pid="${pids[0]}"

host="${CHAT_HOST:-127.0.0.1}"
port="${CHAT_PORT:-8090}"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited" >&2; exit 1; }
  sleep 0.1
done

if [ -n "${DISPLAY:-}" ]; then
  for user in user1 user2 user3; do
    $PY -m client --user "$user" &
    pids+=("$!")
  done
  echo "chat: three login windows opened (password 111111); Ctrl+C stops everything"
else
  echo "chat: no DISPLAY, so no windows; the server listens on $host:$port (Ctrl+C stops it)"
fi
wait "$server_pid"
