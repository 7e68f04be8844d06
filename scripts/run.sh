#!/usr/bin/env bash
# Runs the server in the foreground-ish and, when a display exists, a login window per demo
# user. Ctrl+C stops the server, the windows and the database this script's `make run` started.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
pids=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/db.sh stop
}
trap cleanup INT TERM EXIT

$PY -m server serve &
server_pid=$!
pids+=("$server_pid")

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
