#!/usr/bin/env bash
# The failback runbook (the tech tip's "recovering from failover"), run on
# the FAILOVER server once the primary is back: a planned event, so
# Maestro is stopped here and nothing is copied while open. It stops at the
# first step that does not hold. `--dry-run` prints every command, runs none.
#
#   examples/failback.sh [--dry-run] [--config FILE] PRIMARY
#
# PRIMARY is the ssh destination of the primary (root@maestro1.example.org).
# Environment: MAESTRO_UNITS ["maestro-hub maestro-lui maestro-tracker"],
# MAESTRO_ROOT, the install root on both servers [/opt/lsoft/maestro],
# MAESTRO_MANIFEST [/var/lib/maestro-ha/failover-manifest.jsonl],
# READY_TIMEOUT [10m].
#
# Order: the isolation of the primary is lifted (unfence) before the copy,
# since it drops every packet between the two servers; unfence re-enables
# Maestro there but starts nothing, and the primary's units start only
# after the copy is checked (guard and snapshot check as ExecStartPre=).
# The sync resumes last (`unfence --resume-sync`), so the primary's guard
# must reach this server with a key line of its own: the sync user's key,
# commented out by the isolate level, would make it refuse (README, guard).
set -euo pipefail

CONFIG=/etc/maestro-ha/config.toml
DRY_RUN=0
PRIMARY=
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --config) CONFIG=${2:?--config needs a file}; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "failback.sh: unknown argument: $1" >&2; exit 3 ;;
    *) PRIMARY=$1 ;;
  esac
  shift
done
[[ -n $PRIMARY ]] || { echo "failback.sh: name the primary (ssh destination)" >&2; exit 3; }
read -r -a UNITS <<<"${MAESTRO_UNITS:-maestro-hub maestro-lui maestro-tracker}"
ROOT=${MAESTRO_ROOT:-/opt/lsoft/maestro}
MANIFEST=${MAESTRO_MANIFEST:-/var/lib/maestro-ha/failover-manifest.jsonl}
READY_TIMEOUT=${READY_TIMEOUT:-10m}
C=(--config "$CONFIG")

step() {
  local want=$1 what=$2; shift 2
  printf '+ %s\n' "$*"
  ((DRY_RUN)) && return 0
  local rc=0
  "$@" || rc=$?
  if ((rc != want)); then
    echo "failback.sh: STOP at \"$what\": \`$*\` exited $rc (wanted $want)" >&2
    exit 1
  fi
}

# 1. The returning primary must not run Maestro yet: guard refuses (2).
step 2 "primary kept down" ssh "$PRIMARY" maestro-fence "${C[@]}" guard
# 2. Stop Maestro here: the copy back is of closed files.
step 0 "stop Maestro here" systemctl stop "${UNITS[@]}"
# 3. Lift the fence (services re-enabled on the primary, NOT started).
step 0 "unfence" maestro-fence "${C[@]}" unfence
# 4. The failover's files as one point in time, and the copy back.
step 0 "capture" maestro-snapshot-verify "${C[@]}" capture --out "$MANIFEST"
step 0 "sync back" rsync -a --delete "$ROOT/" "$PRIMARY:$ROOT/"
step 0 "ship the manifest" rsync -a "$MANIFEST" "$PRIMARY:$MANIFEST"
# 5. The same checks on the primary, then start it.
step 0 "snapshot check" ssh "$PRIMARY" maestro-snapshot-verify "${C[@]}" check --manifest "$MANIFEST"
step 0 "guard allows" ssh "$PRIMARY" maestro-fence "${C[@]}" guard
# 6. Traffic back: release the address and restore the names' records as
#    they were before the failover's move (undo), the primary takes the
#    address and points the names at [redirect] primary_addresses (move
#    there: the tool tells from its interfaces that it runs on the
#    primary), and nothing may point at this server any more (check there).
step 0 "redirect undo" maestro-redirect "${C[@]}" undo
step 0 "redirect to the primary" ssh "$PRIMARY" maestro-redirect "${C[@]}" move
step 0 "redirect check" ssh "$PRIMARY" maestro-redirect "${C[@]}" check
# The primary's clock before the start (no space in it: it goes through
# ssh): only the start that begins after it counts, also when it has
# logged everything before logscan reads (the log copied back holds this
# server's starts too).
STARTED_AT=TIME
if ((!DRY_RUN)); then
  STARTED_AT=$(ssh "$PRIMARY" date +%FT%T) || { echo "failback.sh: STOP: cannot read the primary's clock" >&2; exit 1; }
fi
step 0 "start Maestro" ssh "$PRIMARY" systemctl start "${UNITS[@]}"
step 0 "startup logs" ssh "$PRIMARY" maestro-logscan "${C[@]}" --follow --until-ready --timeout "$READY_TIMEOUT" --since-start-after "$STARTED_AT"
step 0 "test mailing" maestro-smoketest "${C[@]}" all
# 7. Satisfied: resume the sync from the primary to this server.
step 0 "resume the sync" maestro-fence "${C[@]}" unfence --resume-sync
if ((DRY_RUN)); then echo "failback.sh: dry run: nothing ran"; else echo "failback.sh: every step held: Maestro serves from the primary again"; fi
