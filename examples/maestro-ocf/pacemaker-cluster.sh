#!/bin/sh
# Pacemaker runs the whole failover: a two-node cluster (maestro1 the primary,
# maestro2 the failover) where Maestro starts only through maestro-ha's gates.
# Run once, on one node, after `pcs cluster setup` (corosync's two_node mode)
# and `pcs cluster start --all`. The Debian package installs both agents:
# fence_maestro in /usr/sbin and ocf:maestro-ha:maestro in
# /usr/lib/ocf/resource.d/maestro-ha/ (links to maestro-fence); with a cargo
# install, make both links by hand. Both nodes have the same
# /etc/maestro-ha/config.toml ([services] names, [fence] node_name = "maestro1").

# 1. The old primary is fenced before Maestro starts elsewhere. fence_maestro
#    fences maestro1 only; maestro2 needs a device of its own (a stop that fails
#    there makes Pacemaker fence maestro2), here its IPMI board.
pcs stonith create maestro-primary-fence fence_maestro \
    config_file=/etc/maestro-ha/config.toml \
    node_name=maestro1 pcmk_host_list=maestro1 pcmk_reboot_action=off \
    power_timeout=40 pcmk_off_timeout=90s pcmk_reboot_timeout=90s \
    op monitor interval=60s
pcs stonith create maestro2-ipmi fence_ipmilan ip=10.0.0.12 username=admin \
    password_script=/etc/maestro-ha/ipmi-password pcmk_host_list=maestro2
# A device never runs on the node it fences.
pcs constraint location maestro-primary-fence avoids maestro1
pcs constraint location maestro2-ipmi avoids maestro2

# 2. Maestro, through the gates. On maestro2 (not primary_node) a start runs
#    maestro-fence check, maestro-snapshot-verify check against the manifest
#    (or maestro-sync's current generation, when [sync] generations is set),
#    the services, then maestro-logscan for the database and the LUI until
#    ready; on maestro1, maestro-fence guard, the services and the logs.
#    The start timeout covers all of that: the replica check hashes what
#    changed since the last check, the LUI may take minutes to say ready.
#    Depth 10 monitors ask the LUI over HTTP every 30 s; depth 20 clicks the
#    tracker links of a saved test mailing once an hour.
pcs resource create maestro ocf:maestro-ha:maestro \
    config_file=/etc/maestro-ha/config.toml \
    manifest=/var/lib/maestro-ha/primary-manifest.jsonl \
    primary_node=maestro1 \
    http_url=http://127.0.0.1/lui/ \
    smoketest_message=/var/lib/maestro-ha/smoketest.eml \
    op start timeout=900s \
    op stop timeout=300s \
    op monitor interval=30s timeout=60s OCF_CHECK_LEVEL=10 \
    op monitor interval=3600s timeout=300s OCF_CHECK_LEVEL=20 \
    meta migration-threshold=1 \
    --group maestro-group

# 3. Traffic follows Maestro: the service address, raised only after Maestro
#    started (a group starts its members in order, stops them in reverse).
pcs resource create maestro-ip ocf:heartbeat:IPaddr2 \
    ip=192.0.2.10 cidr_netmask=24 \
    op monitor interval=10s \
    --group maestro-group

# 4. Maestro runs on the primary while it can; after a failover it stays on
#    maestro2 (a failback is a decision: maestro-fence unfence, a copy back, a
#    manifest, then `pcs resource move maestro-group maestro1`).
pcs constraint location maestro-group prefers maestro1=100
pcs resource defaults update resource-stickiness=INFINITY

# Look at it:
#   crm_mon -1 --include=all          # a failed start lists the gate and the tool's line
#   grep 'maestro(maestro)' /var/log/pacemaker/pacemaker.log   # every gate's output
#   journalctl -t 'maestro(maestro)'  # the same, from syslog
#   pcs resource debug-start maestro  # one start by hand, its log on the terminal
#   pcs resource cleanup maestro      # after fixing what a gate found
