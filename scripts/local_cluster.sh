#!/usr/bin/env bash
# Starts N local processes of launch.py joined into one data-parallel run, to
# try multi-machine training on one box (CPU devices, gloo collectives).
#
#   scripts/local_cluster.sh [-n PROCESSES] [-d DEVICES_PER_PROCESS] [-p PORT] \
#       -- <launch.py flags>
#
# e.g. 2 processes x 2 CPU devices = 4 devices, like one process on 4:
#   scripts/local_cluster.sh -n 2 -d 2 -- --config=configs/mlp.py \
#       --config.data.dir=../shared/data/mnist-5k --workdir=runs/mlp-2x2
#
# Process 0 prints to this terminal (it logs and writes the results); process
# i > 0 logs to $LOG_DIR/process-i.log. If one process fails, the others are
# stopped; the exit status is the first failing process's. PYTHON picks the
# interpreter (default: python).
set -euo pipefail

n=2 devices=1 port=""
while getopts "n:d:p:h" opt; do
  case "$opt" in
    n) n="$OPTARG" ;;
    d) devices="$OPTARG" ;;
    p) port="$OPTARG" ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
PYTHON="${PYTHON:-python}"
cd "$(dirname "$0")/.."
if [ -z "$port" ]; then  # A port free right now on this machine.
  port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
LOG_DIR="${LOG_DIR:-$(mktemp -d)}"
mkdir -p "$LOG_DIR"
echo "local_cluster: $n processes x $devices CPU device(s), coordinator 127.0.0.1:$port, logs of processes 1..$((n - 1)) in $LOG_DIR" >&2

# Each process runs in its own session (setsid), so a Ctrl-C in this terminal
# reaches this script alone, which sends every process exactly one SIGTERM:
# each then saves a checkpoint and ends. (A second signal would make launch.py
# stop at once, without saving.)
pids=()
stopped=0
stop_all() {  # Only the processes this script started, by pid; only once.
  [ "$stopped" -eq 1 ] && return 0
  stopped=1
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
}
on_signal() {  # $1: this script's exit status.
  echo "local_cluster: stopping; each process saves a checkpoint first." >&2
  stop_all
  wait || true
  exit "$1"
}
trap stop_all EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

for ((i = 0; i < n; i++)); do
  cmd=(setsid env XLA_FLAGS="--xla_force_host_platform_device_count=$devices"
       "$PYTHON" launch.py --coordinator_address="127.0.0.1:$port"
       --num_processes="$n" --process_id="$i" "$@")
  if [ "$i" -eq 0 ]; then
    "${cmd[@]}" &
  else
    "${cmd[@]}" >"$LOG_DIR/process-$i.log" 2>&1 &
  fi
  pids+=("$!")
done

status=0
for ((left = n; left > 0; left--)); do
  wait -n || status=$?  # The next of our children to end.
  if [ "$status" -ne 0 ]; then
    echo "local_cluster: a process failed (status $status); stopping the others." >&2
    stop_all
    wait || true
    break
  fi
done
exit "$status"
