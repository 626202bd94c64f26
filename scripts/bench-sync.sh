#!/usr/bin/env bash
# Benchmark of maestro-sync, as root: a run with 1% of the files changed,
# next to plain `rsync -a --delete` of the same tree and the same changes,
# both over SSH to a loopback sshd, in the same rounds:
#  - wall time of a run;
#  - CPU time on both sides (the sending side: the process and its
#    children, ssh included; the receiving side: rsync under maestro-sync's
#    rsync-wrap for both, plus maestro-sync receive for maestro-sync; sshd's
#    own encryption is counted for neither);
#  - bytes sent (rsync's --stats; maestro-sync: the data, and the manifest
#    over its session);
#  - the RPO right after a run (the age of the new current generation),
#    against the target of one interval plus one run.
# The source is a btrfs subvolume on a loop device (maestro-sync takes a
# read-only snapshot of it, as in production); both copies go to a second
# loop file system, the receiving server's disk: btrfs (DEST_FS=btrfs, the
# default: each generation a snapshot of the current one) or ext4
# (DEST_FS=ext4: generations of hard links, rsync --link-dest). Target (the
# design's): within 1.2x of plain rsync's wall time and CPU.
#
#   FILES=10000 FILE_KB=64 ROUNDS=3 DEST_FS=btrfs scripts/bench-sync.sh
#
# Fair to both: each login over SSH runs the receiving account's shell
# start files (on the development VM root's ~/.bashrc starts pyenv, 0.15-
# 0.35 s a login); both pay one login (maestro-sync carries rsync's
# stream in its own session), and the login's time is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "bench-sync.sh: run as root (a loop device, btrfs)" >&2; exit 1; }
FILES=${FILES:-10000}
# KEEP=1: leave the folder (and print it) for a look after the run.
KEEP=${KEEP:-0}
FILE_KB=${FILE_KB:-64}
ROUNDS=${ROUNDS:-3}
DEST_FS=${DEST_FS:-btrfs}
CHANGED=$((FILES / 100))
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# MAESTRO_SYNC_BIN: a maestro-sync built before (to compare two versions
# on the same machine without a build between them).
if [[ -n ${MAESTRO_SYNC_BIN:-} ]]; then
  BIN=$MAESTRO_SYNC_BIN
else
  cargo build --release --locked --bin maestro-sync >/dev/null 2>&1
  BIN=$CARGO_TARGET_DIR/release/maestro-sync
fi

T=$(mktemp -d /tmp/bench-sync.XXXXXX)
SSHD_PID=""
cleanup() {
  [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null || true
  if ((KEEP)); then echo "kept: $T (umount $T/vol; rm -rf $T)" >&2; return; fi
  umount "$T/vol" 2>/dev/null || true
  umount "$T/dest" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# --- the source: a btrfs subvolume on a loop device, FILES files
size_mb=$((FILES * FILE_KB / 1024 * 3 + 300))
truncate -s "${size_mb}M" "$T/vol.img"
mkfs.btrfs -q "$T/vol.img"
mkdir "$T/vol"
mount -o loop "$T/vol.img" "$T/vol"
btrfs subvolume create "$T/vol/maestro" >/dev/null
truncate -s "$((size_mb * 2))M" "$T/dest.img"
if [[ $DEST_FS == ext4 ]]; then mkfs.ext4 -q -F "$T/dest.img"; else mkfs.btrfs -q "$T/dest.img"; fi
mkdir "$T/dest"
mount -o loop "$T/dest.img" "$T/dest"
mkdir -p "$T/vol/snapshots" "$T/dest/plain" "$T/dest/gen"
SRC=$T/vol/maestro/app
python3 - "$SRC" "$FILES" "$FILE_KB" <<'PY'
import os, sys
src, files, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(files):
    d = os.path.join(src, "lui", "jobs", "%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%06d.xml" % i), "wb") as f:
        f.write(os.urandom(kb * 1024))
PY

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
USER_NAME=$(id -un)
host() {
  cat <<CONF
[$1]
host = "127.0.0.1"
port = $PORT
user = "$USER_NAME"
identity_file = "$T/user_key"
known_hosts = "$T/known_hosts"
CONF
}
cat >"$T/receiver.toml" <<CONF
$(host primary)
[sync]
generations = "$T/dest/gen"
keep = 2
CONF
cat >"$T/sender.toml" <<CONF
[site]
install_root = "$SRC"
$(host failover)
[fence]
marker_file = "$T/fenced"
[sync]
snapshot = "btrfs"
snapshot_dir = "$T/vol/snapshots"
remote_command = "$BIN --config $T/receiver.toml --state-dir $T/state-r"
interval = "15m"
CONF
SSH="ssh -p $PORT -i $T/user_key -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes"

# Runs a command; prints "wall user+system-of-it-and-its-children".
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.buffer.write(r.stdout)
sys.stderr.buffer.write(r.stderr)
print("MEASURE %.3f %.3f %d" % (wall, u.ru_utime + u.ru_stime, r.returncode))
PY
}

# The design's steps without maestro-sync's own checks ("bare"): a
# read-only snapshot of the source, rsync into the receiving side's copy
# (on btrfs a staging subvolume kept between runs, whose inodes stay
# cached, snapshotted as the new generation afterwards; on ext4 a new
# folder with --link-dest to the current generation), a flush of the
# receiving file system, the naming, the switch of `current`, the prune to
# two generations, all in one SSH login (a wrapper as rsync's
# --rsync-path), and no manifest, no check, no catalog. It is what the
# point-in-time guarantee costs before any verification, done the
# cheapest way known here, measured beside the other two.
cat >"$T/bare-wrap" <<'WRAP'
#!/bin/sh
# bare-wrap DEST ID FS -- the rsync server's arguments
dest=$1 id=$2 fs=$3
shift 3
cd "$dest" || exit 1
cur=$(readlink current) || exit 1
if [ "$fs" = btrfs ]; then
  [ -d staging ] || btrfs -q subvolume snapshot "$cur" staging || exit 1
  rsync "$@" || exit $?
  sync -f . && btrfs -q subvolume snapshot staging "$id" >/dev/null && sync . || exit 1
else
  rsync "$@" || exit $?
  sync -f . && mv -T "$id.partial" "$id" && sync . || exit 1
fi
ln -sfn "$id" current.new && mv -T current.new current && sync . || exit 1
for old in $(ls -1 | grep -E '^[0-9]+$' | grep -vx "$id" | sort -n | head -n -1); do
  if [ "$fs" = btrfs ]; then btrfs -q subvolume delete "$old"; else rm -rf "$old"; fi || exit 1
done
WRAP
chmod +x "$T/bare-wrap"
mkdir -p "$T/dest/bare"
if [[ $DEST_FS == btrfs ]]; then btrfs -q subvolume create "$T/dest/bare/0"; else mkdir "$T/dest/bare/0"; fi
ln -s 0 "$T/dest/bare/current"
bare() {
  local id link=() into
  id=$(date +%s%N)
  rm -f "$T/bare-usage"
  into=staging
  [[ $DEST_FS == btrfs ]] || { link=(--link-dest="$T/dest/bare/current/"); into=$id.partial; }
  measure sh -c 'btrfs -q subvolume snapshot -r "$1" "$2" || exit 1
    shift 2
    rsync "$@"; rc=$?
    btrfs -q subvolume delete "$0" || exit 1
    exit $rc' "$T/vol/snapshots/bare-$id" "$T/vol/maestro" "$T/vol/snapshots/bare-$id" \
    -a --delete --stats -e "$SSH" "${link[@]}" \
    --rsync-path="$BIN rsync-wrap --usage $T/bare-usage -- $T/bare-wrap $T/dest/bare $id $DEST_FS" \
    "$T/vol/snapshots/bare-$id/app/" "127.0.0.1:$T/dest/bare/$into/"
}

plain() {
  rm -f "$T/plain-usage"
  measure rsync -a --delete --stats -e "$SSH" \
    --rsync-path="$BIN rsync-wrap --usage $T/plain-usage -- rsync" "$SRC/" "127.0.0.1:$T/dest/plain/"
}
sync_run() {
  measure "$BIN" --config "$T/sender.toml" --state-dir "$T/state-s" --format json push
}
remote_cpu() { python3 -c 'import json,sys; print(sum(json.loads(l)["user_s"]+json.loads(l)["system_s"] for l in open(sys.argv[1])))' "$1"; }

# The first copies (not measured: both send everything).
plain >/dev/null
out=$(bare) || { echo "$out"; echo "the first bare run failed" >&2; exit 1; }
sync_run >"$T/first.json" || { cat "$T/first.json"; exit 1; }
grep -q '"exit_code":0' "$T/first.json" || { cat "$T/first.json"; echo "the first push failed" >&2; exit 1; }

change() {
  python3 - "$SRC" "$FILES" "$FILE_KB" "$CHANGED" "$1" <<'PY'
import os, random, sys
src, files, kb, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(seed)
for i in rnd.sample(range(files), n):
    with open(os.path.join(src, "lui", "jobs", "%03d" % (i % 100), "%06d.xml" % i), "wb") as f:
        f.write(os.urandom(kb * 1024))
PY
}

# What one SSH login costs here (the connection and the login shell's
# start files): each tool opens one session a run.
logins=()
for _ in 1 2 3; do
  read -r _ wall _ _ <<<"$(measure $SSH 127.0.0.1 true | grep '^MEASURE')"
  logins+=("$wall")
done
login=$(printf '%s\n' "${logins[@]}" | sort -g | awk '{a[NR]=$1} END {print a[2]}')

rows=()
for r in $(seq "$ROUNDS"); do
  change "$r"
  sync 2>/dev/null || true
  # Both on the same changes; the order alternates so neither always
  # finds the page cache warmed by the other.
  for which in $( ((r % 2)) && echo "plain bare sync" || echo "sync bare plain"); do
    if [[ $which == bare ]]; then
      out=$(bare)
      read -r _ wall cpu rc <<<"$(grep '^MEASURE' <<<"$out")"
      ((rc == 0)) || { echo "$out"; exit 1; }
      rcpu=$(remote_cpu "$T/bare-usage")
      b_wall=$wall b_cpu=$(awk -v a="$cpu" -v b="$rcpu" 'BEGIN { print a + b }')
    elif [[ $which == plain ]]; then
      out=$(plain)
      read -r _ wall cpu rc <<<"$(grep '^MEASURE' <<<"$out")"
      ((rc == 0)) || { echo "$out"; exit 1; }
      bytes=$(awk -F': ' '/^Total bytes sent/ { gsub(",", "", $2); print $2 }' <<<"$out")
      rcpu=$(remote_cpu "$T/plain-usage")
      p_wall=$wall p_cpu=$(awk -v a="$cpu" -v b="$rcpu" 'BEGIN { print a + b }') p_bytes=$bytes p_lcpu=$cpu p_rcpu=$rcpu
    else
      out=$(sync_run)
      read -r _ wall cpu rc <<<"$(grep '^MEASURE' <<<"$out")"
      ((rc == 0)) || { echo "$out"; exit 1; }
      vals=$(python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.startswith("{")]
c = {r["name"]: r for r in recs if r.get("type") == "check"}
rpo = c["rpo"]["details"]
sent = c["transfer"]["details"]["stats"]["bytes_sent"] + c["manifest"]["details"]["stats"]["bytes_sent"]
gen = c["generation"]["details"]
steps = ",".join("%s=%s" % kv for kv in sorted(rpo["steps_ms"].items()))
print(sent, rpo["cpu_target_s"], gen["rpo_s"], c["transfer"]["details"]["stats"]["transferred"], steps)
' <<<"$out")
      read -r bytes tcpu rpo transferred steps <<<"$vals"
      s_wall=$wall s_cpu=$(awk -v a="$cpu" -v b="$tcpu" 'BEGIN { print a + b }') s_bytes=$bytes s_rpo=$rpo s_lcpu=$cpu s_rcpu=$tcpu
    fi
  done
  printf 'round %d (%d of %d files changed, %d sent): maestro-sync %.3f s, CPU %.3f s (%.3f here, %.3f there), %d bytes, RPO %.3f s (steps in ms: %s); rsync -a --delete %.3f s, CPU %.3f s (%.3f here, %.3f there), %d bytes; bare %.3f s, CPU %.3f s\n' \
    "$r" "$CHANGED" "$FILES" "$transferred" "$s_wall" "$s_cpu" "$s_lcpu" "$s_rcpu" "$s_bytes" "$s_rpo" "$steps" "$p_wall" "$p_cpu" "$p_lcpu" "$p_rcpu" "$p_bytes" "$b_wall" "$b_cpu"
  rows+=("$s_wall $p_wall $s_cpu $p_cpu $s_bytes $p_bytes $s_rpo $b_wall $b_cpu")
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { printf '%s\n' "${rows[@]}" | awk -v c="$1" '{print $c}' | median; }
sw=$(col 1) pw=$(col 2) sc=$(col 3) pc=$(col 4) sb=$(col 5) pb=$(col 6) rpo=$(col 7) bw=$(col 8) bc=$(col 9)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "maestro-sync against rsync -a --delete, $CHANGED of $FILES files ($FILE_KB KiB each) changed, median of $ROUNDS rounds, receiving disk $DEST_FS; one SSH login (ssh HOST true) took $login s before the rounds"
printf 'BENCH|maestro-sync|push, 1%% of %d files changed, %s: wall (median of %d)|%.3f s|rsync -a --delete %.3f s|%s|<= 1.2\n' "$FILES" "$DEST_FS" "$ROUNDS" "$sw" "$pw" "$(ratio "$sw" "$pw")"
printf 'BENCH|maestro-sync|CPU, both sides, %s|%.3f s|rsync -a --delete %.3f s|%s|<= 1.2\n' "$DEST_FS" "$sc" "$pc" "$(ratio "$sc" "$pc")"
printf 'BENCH|maestro-sync|bytes sent (data and manifest), %s|%d|rsync -a --delete %d|%s|\n' "$DEST_FS" "$sb" "$pb" "$(ratio "$sb" "$pb")"
printf 'BENCH|maestro-sync|RPO right after a run (age of current), %s|%.3f s|||<= interval + one run (15m + %.1f s)\n' "$DEST_FS" "$rpo" "$sw"
printf 'BENCH|maestro-sync|bare steps (snapshot, rsync, flush, new generation, switch, prune; no manifest, no check), %s: wall|%.3f s|rsync -a --delete %.3f s|%s|\n' "$DEST_FS" "$bw" "$pw" "$(ratio "$bw" "$pw")"
printf 'BENCH|maestro-sync|bare steps, CPU, %s|%.3f s|rsync -a --delete %.3f s|%s|\n' "$DEST_FS" "$bc" "$pc" "$(ratio "$bc" "$pc")"
printf 'BENCH|maestro-sync|push against the bare steps, %s: wall|%.3f s|bare %.3f s|%s|\n' "$DEST_FS" "$sw" "$bw" "$(ratio "$sw" "$bw")"
printf 'BENCH|maestro-sync|push against the bare steps, CPU, %s|%.3f s|bare %.3f s|%s|\n' "$DEST_FS" "$sc" "$bc" "$(ratio "$sc" "$bc")"
