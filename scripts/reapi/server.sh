#!/usr/bin/env bash
# A local REAPI cluster for llpar's tests: a BuildGrid server and N workers, in one process group.
#   server.sh start RUN_DIR [WORKERS]   installs BuildGrid (once, into target/reapi-venv), starts
#                                       the cluster with its files in RUN_DIR, waits until the
#                                       workers are registered, prints HOST:PORT
#   server.sh stop RUN_DIR              stops it (TERM, then KILL after 10 s) and removes its files
# BuildGrid ships no worker; scripts/reapi/worker.py stands where buildbox-worker runs in
# production. Needs python3 with venv (Debian: python3-venv) and PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=$root/target/reapi-venv

install() {
  mkdir -p "$root/target"
  # Test binaries may start clusters at the same time: one installs, the others wait.
  exec 9>"$root/target/reapi-venv.lock"
  flock 9
  if [ ! -x "$venv/bin/bgd" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'buildgrid==0.2.53' >&2
  fi
  flock -u 9
}

start() {
  local run=$1 workers=${2:-2}
  install
  mkdir -p "$run"
  run=$(cd "$run" && pwd)
  local port
  port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # setsid: the server and the workers share a new process group, which `stop` ends as one.
  BGD_PORT=$port BGD_CAS_DIR=$run/cas TMPDIR=$run setsid bash -c '
    "$0/bin/bgd" server start "$1" > "$2/server.log" 2>&1 &
    for i in $(seq 1 "$3"); do
      "$0/bin/python" "$4/worker.py" --remote "127.0.0.1:$5" --bot-id "worker-$i" \
        --work-dir "$2/worker-$i" > "$2/worker-$i.log" 2>&1 &
      echo $! > "$2/worker-$i.pid"
    done
    wait' "$venv" "$here/buildgrid.yml" "$run" "$workers" "$here" "$port" < /dev/null > /dev/null 2>&1 &
  echo $! > "$run/pgid"
  if ! "$venv/bin/python" "$here/wait_ready.py" "127.0.0.1:$port" 120; then
    echo "server.sh: BuildGrid did not start; its log:" >&2
    tail -20 "$run/server.log" >&2
    stop "$run"
    exit 1
  fi
  for i in $(seq 1 "$workers"); do
    for _ in $(seq 1 600); do
      grep -q "bot session" "$run/worker-$i.log" 2>/dev/null && break
      sleep 0.1
    done
    if ! grep -q "bot session" "$run/worker-$i.log"; then
      echo "server.sh: worker $i did not register; its log:" >&2
      tail -20 "$run/worker-$i.log" >&2
      stop "$run"
      exit 1
    fi
  done
  echo "127.0.0.1:$port"
}

stop() {
  local run=$1 pgid
  pgid=$(cat "$run/pgid" 2>/dev/null) || return 0
  if kill -TERM -- "-$pgid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 -- "-$pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -rf "${run:?}"/*
}

case "${1:-}" in
  start) start "${2:?RUN_DIR}" "${3:-2}" ;;
  stop) stop "${2:?RUN_DIR}" ;;
  *) echo "usage: server.sh start RUN_DIR [WORKERS] | stop RUN_DIR" >&2; exit 2 ;;
esac
