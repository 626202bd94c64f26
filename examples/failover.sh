#!/usr/bin/env bash
# The failover runbook of the L-Soft tech tip as a pipeline of the maestro-ha
# tools, run on the FAILOVER server. It stops at the first step that does
# not hold and says which. `--dry-run` prints every command and runs none.
#
#   examples/failover.sh [--dry-run] [--planned] [--config FILE]
#
# After an outage (the default) the watch must confirm it and the fence
# isolates the primary from here. `--planned` is a planned switchover with
# the primary up: first stop Maestro on the primary and let the sync copy
# the stopped tree once more (with its manifest); then this script fences
# the primary over SSH (`--level ssh`: its services stopped and disabled,
# its sync schedule off, the marker written, all read back).
#
# Environment (defaults in brackets):
#   MAESTRO_UNITS     the Maestro units to start here ["maestro-hub maestro-lui maestro-tracker"]
#   MAESTRO_MANIFEST  the primary's manifest, shipped by the sync after the
#                     data [/var/lib/maestro-ha/primary-manifest.jsonl]
#   READY_TIMEOUT     how long the startup may take before logscan gives up [10m]
set -euo pipefail

CONFIG=/etc/maestro-ha/config.toml
DRY_RUN=0
PLANNED=0
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    --planned) PLANNED=1 ;;
    --config) CONFIG=${2:?--config needs a file}; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "failover.sh: unknown argument: $1" >&2; exit 3 ;;
  esac
  shift
done
read -r -a UNITS <<<"${MAESTRO_UNITS:-maestro-hub maestro-lui maestro-tracker}"
MANIFEST=${MAESTRO_MANIFEST:-/var/lib/maestro-ha/primary-manifest.jsonl}
READY_TIMEOUT=${READY_TIMEOUT:-10m}
C=(--config "$CONFIG")

# Runs one step; `want` is the exit code that lets the runbook go on.
step() {
  local want=$1 what=$2; shift 2
  printf '+ %s\n' "$*"
  ((DRY_RUN)) && return 0
  local rc=0
  "$@" || rc=$?
  if ((rc != want)); then
    echo "failover.sh: STOP at \"$what\": \`$*\` exited $rc (wanted $want)" >&2
    exit 1
  fi
}

if ((PLANNED)); then
  # 1-2. A planned switchover: the primary is up and answers over SSH.
  step 0 "fence" maestro-fence "${C[@]}" fence --level ssh
else
  # 1. Is the primary really down, from here and from the witnesses, for
  #    longer than the threshold? Only DOWN (exit 2) goes on.
  step 2 "outage confirmed" maestro-watch "${C[@]}" once
  # 2. The primary cannot be reached, so fence it from here: drop its
  #    traffic, disable the sync key and daemon.
  step 0 "fence" maestro-fence "${C[@]}" fence --level isolate
fi
# 2b. Traffic for Maestro's address and names to this server (the floating
#    address, the DNS update, your own commands: [redirect] methods), each
#    verified from the witnesses; then nothing may still point at the old
#    primary (INI values, the names, the SMTP relay's rules, ports).
step 0 "redirect" maestro-redirect "${C[@]}" move
step 0 "redirect check" maestro-redirect "${C[@]}" check
# 3. The replica's files come from one point in time.
step 0 "snapshot check" maestro-snapshot-verify "${C[@]}" check --manifest "$MANIFEST"
# 4. Start Maestro here; the units' ExecStartPre= gates (fence check,
#    snapshot check: examples/systemd/maestro-failover-prestart.conf) run again.
step 0 "pre-start gate" maestro-fence "${C[@]}" check
# The logs may hold an earlier start's lines (the log folder came with the
# data): note the time now, so that only the start that begins after it
# counts, even when it has logged everything before logscan reads it.
printf -v STARTED_AT '%(%F %T)T' -1
step 0 "start Maestro" systemctl start "${UNITS[@]}"
# 5. The startup logs: the database's crash recovery, then the LUI's
#    LUI-yyyymmdd.LOG, each from this start's startup line until it says
#    ready (the logs must be stamped in this server's time zone, and the
#    database must start with the units above, not before them).
step 0 "database log" maestro-logscan "${C[@]}" --component db --follow --until-ready --timeout "$READY_TIMEOUT" --since-start-after "$STARTED_AT"
step 0 "LUI log" maestro-logscan "${C[@]}" --component lui --follow --until-ready --timeout "$READY_TIMEOUT" --since-start-after "$STARTED_AT"
# 6. A test mailing: delivered, bounce received, click tracked.
step 0 "test mailing" maestro-smoketest "${C[@]}" all
if ((DRY_RUN)); then echo "failover.sh: dry run: nothing ran"; else echo "failover.sh: every step held: Maestro serves from this server"; fi
