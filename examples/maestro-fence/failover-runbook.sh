#!/bin/sh
# Failing over (the tech tip's step 1 and 3): fence the old primary, then
# start Maestro here; the ExecStartPre= gate (failover-check.conf) checks
# the fence again at every start.
set -eu
CONFIG=/etc/maestro-ha/config.toml

# What would run where, without changing anything:
maestro-fence --config "$CONFIG" fence --dry-run

# Fence: 0 fenced by the first level, 1 fenced by a later level (read the
# warnings), 2 NOT fenced. Anything else: stop and look.
rc=0
maestro-fence --config "$CONFIG" fence || rc=$?
if [ "$rc" -gt 1 ]; then
    echo "the old primary is NOT fenced (exit $rc): do not start Maestro here" >&2
    exit 1
fi
maestro-fence --config "$CONFIG" epoch
systemctl start maestro-hub maestro-lui maestro-tracker

# Failback later, after copying the data back (services re-enabled there,
# not started; sync resumed only with --resume-sync):
#   maestro-fence --config "$CONFIG" unfence --resume-sync
