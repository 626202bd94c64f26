#!/usr/bin/env bash
# Benchmark of maestro-fence, as root:
#  1. fence + verify over SSH against a loopback sshd (target: at most 2 s),
#     next to OpenSSH's `ssh` running the same stop/disable/verify commands
#     in one session (the reference, measured in the same run);
#  2. the time to decide that a primary is unreachable (SYNs dropped in a
#     network namespace made here), against the connect timeout + 1 s, next
#     to `ssh -o ConnectTimeout` to the same address.
# Everything is made in a temporary folder and two network namespaces with
# 198.18.0.0/15 addresses, and removed again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "bench-fence.sh: run as root (network namespaces)" >&2; exit 1; }
ROUNDS=${ROUNDS:-5}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked --bin maestro-fence >/dev/null 2>&1
BIN=$CARGO_TARGET_DIR/release/maestro-fence

T=$(mktemp -d /tmp/bench-fence.XXXXXX)
NSP=mfbench$$p NSF=mfbench$$f
SSHD_PID=""
SERVICE_PIDS=()
cleanup() {
  [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null || true
  for p in "${SERVICE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NSP" 2>/dev/null || true
  ip netns del "$NSF" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

# --- a loopback sshd with throwaway keys
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/user_key"
cp "$T/user_key.pub" "$T/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
CONF
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_key.pub")" >"$T/known_hosts"

R=$T
cat >"$T/config.toml" <<CONF
[primary]
host = "127.0.0.1"
port = $PORT
user = "$(id -un)"
identity_file = "$T/user_key"
known_hosts = "$T/known_hosts"
connect_timeout = "${CONNECT_TIMEOUT}s"
[services]
manager = "commands"
names = ["lui", "hub"]
stop_command = "kill \$(cat $R/{name}.pid) 2>/dev/null; for i in \$(seq 1 50); do kill -0 \$(cat $R/{name}.pid) 2>/dev/null || exit 0; sleep 0.02; done; exit 1"
disable_command = "touch $R/{name}.disabled"
enable_command = "rm -f $R/{name}.disabled"
active_command = "kill -0 \$(cat $R/{name}.pid 2>/dev/null) 2>/dev/null"
enabled_command = "test ! -e $R/{name}.disabled"
[sync]
process_name = "mfbenchsync"
[fence]
levels = ["ssh"]
marker_file = "$R/fenced"
epoch_file = "$R/epoch"
CONF

start_services() {
  rm -f "$R"/*.disabled "$R/fenced"
  for s in lui hub; do
    setsid sh -c "echo \$\$ > $R/$s.pid; exec sleep 1000" </dev/null >/dev/null 2>&1 &
    SERVICE_PIDS+=($!)
  done
  for s in lui hub; do for _ in $(seq 100); do [[ -s $R/$s.pid ]] && break; sleep 0.01; done; done
}

# The same work by hand with OpenSSH: one session, the same commands.
REF_SCRIPT="for s in lui hub; do kill \$(cat $R/\$s.pid) 2>/dev/null; for i in \$(seq 1 50); do kill -0 \$(cat $R/\$s.pid) 2>/dev/null || break; sleep 0.02; done; touch $R/\$s.disabled; done
pkill -TERM -x mfbenchsync; printf 'maestro-fence-marker=1\nepoch=0\n' > $R/fenced
for s in lui hub; do kill -0 \$(cat $R/\$s.pid) 2>/dev/null && exit 1; test -e $R/\$s.disabled || exit 1; done
pgrep -x mfbenchsync && exit 1; cat $R/fenced >/dev/null"

ours=() ref=()
for i in $(seq "$ROUNDS"); do
  start_services
  t0=$(now)
  "$BIN" --config "$T/config.toml" --state-dir "$T/state" -q fence >/dev/null || { echo "fence failed" >&2; exit 1; }
  t1=$(now)
  ours+=("$(secs "$t0" "$t1")")
  start_services
  t0=$(now)
  ssh -q -p "$PORT" -i "$T/user_key" -o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes "$(id -un)@127.0.0.1" "$REF_SCRIPT"
  t1=$(now)
  ref+=("$(secs "$t0" "$t1")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_ours=$(median "${ours[@]}"); m_ref=$(median "${ref[@]}")
printf 'fence+verify over loopback SSH: maestro-fence %.3f s (median of %d; target <= 2 s), ssh by hand %.3f s, ratio %.2f\n' \
  "$m_ours" "$ROUNDS" "$m_ref" "$(ratio "$m_ours" "$m_ref")"
# One machine-readable row for scripts/bench.sh: BENCH|tool|measure|figure|reference|ratio|target
printf 'BENCH|maestro-fence|fence + verify over SSH (median of %d)|%.3f s|ssh by hand %.3f s|%.2f|<= 2 s\n' \
  "$ROUNDS" "$m_ours" "$m_ref" "$(ratio "$m_ours" "$m_ref")"

# --- an unreachable primary: SYNs to it are dropped in its namespace
ip netns add "$NSP"; ip netns add "$NSF"
ip -n "$NSP" link add veth0 type veth peer name veth1 netns "$NSF"
ip -n "$NSP" addr add 198.18.0.2/30 dev veth0; ip -n "$NSF" addr add 198.18.0.1/30 dev veth1
ip -n "$NSP" link set veth0 up; ip -n "$NSF" link set veth1 up
ip netns exec "$NSP" nft -f - <<NFT
table inet blackhole {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 22 drop
	}
}
NFT
sed -e 's/^host = "127.0.0.1"/host = "198.18.0.2"/' -e "s/^port = $PORT/port = 22/" "$T/config.toml" >"$T/unreachable.toml"
t0=$(now)
code=0; ip netns exec "$NSF" "$BIN" --config "$T/unreachable.toml" --state-dir "$T/state" -q fence >/dev/null || code=$?
t1=$(now)
t0r=$(now)
ip netns exec "$NSF" ssh -q -o ConnectTimeout="$CONNECT_TIMEOUT" -o BatchMode=yes -o UserKnownHostsFile=/dev/null root@198.18.0.2 true 2>/dev/null || true
t1r=$(now)
d=$(secs "$t0" "$t1"); dr=$(secs "$t0r" "$t1r")
printf 'unreachable primary decided in %.3f s (exit %d; target <= connect timeout %d s + 1 s), ssh -o ConnectTimeout=%d gives up in %.3f s, ratio %.2f\n' \
  "$d" "$code" "$CONNECT_TIMEOUT" "$CONNECT_TIMEOUT" "$dr" "$(ratio "$d" "$dr")"
printf 'BENCH|maestro-fence|unreachable primary decided (exit %d)|%.3f s|ssh -o ConnectTimeout=%d %.3f s|%.2f|<= %d s\n' \
  "$code" "$d" "$CONNECT_TIMEOUT" "$dr" "$(ratio "$d" "$dr")" "$((CONNECT_TIMEOUT + 1))"
