#!/bin/sh
# Pacemaker: fence the old Maestro primary with fence_maestro before Maestro
# starts on the failover node. The Debian package installs the agent as
# /usr/sbin/fence_maestro (a link to maestro-fence), where Pacemaker looks for
# fence agents; with a cargo install, make that link by hand.
# Pacemaker passes the options on stdin (FenceAgentAPI); fence_maestro reads
# everything else (services, sync, levels) from the maestro-ha config.
#
# node_name names the one node this device fences (or set [fence] node_name in
# the config): fence_maestro refuses every request for another node, and every
# request naming a node when it knows none (Pacemaker does not pass
# pcmk_host_list to the agent, and fills in plug with whatever node it asks
# about). pcmk_host_list tells Pacemaker the same; without it Pacemaker asks
# the agent's `list`, which prints the node name.
#
# Timeouts: Pacemaker kills the agent at pcmk_off_timeout / pcmk_reboot_timeout
# (default: stonith-timeout, 60s) and retries within what is left. Keep
# power_timeout (the agent's whole run) well below them, or the retry gets no
# time: 40s here against 90s.
pcs stonith create maestro-primary-fence fence_maestro \
    config_file=/etc/maestro-ha/config.toml \
    state_dir=/var/lib/maestro-ha \
    power_timeout=40 \
    node_name=maestro1 \
    pcmk_host_list=maestro1 \
    pcmk_reboot_action=off \
    pcmk_off_timeout=90s \
    pcmk_reboot_timeout=90s \
    op monitor interval=60s

# The monitor checks this server only (config, key, known_hosts entry, fence
# agent, firewall tool), never the primary: the device stays started while the
# primary is down, which is when it is needed.

# Fencing topology: IPMI power fencing first, fence_maestro after it (or the
# other way round; Pacemaker stops at the first level that succeeds):
#   pcs stonith create maestro1-ipmi fence_ipmilan ip=10.0.0.9 username=admin \
#       password_script=/etc/maestro-ha/ipmi-password pcmk_host_list=maestro1
#   pcs stonith level add 1 maestro1 maestro1-ipmi
#   pcs stonith level add 2 maestro1 maestro-primary-fence

# Check it by hand (exit 0 on = not fenced, 2 off = fenced, 1 cannot tell):
#   printf 'action=status\nconfig_file=/etc/maestro-ha/config.toml\n' | fence_maestro
#   printf 'action=monitor\nverbose=1\nconfig_file=/etc/maestro-ha/config.toml\n' | fence_maestro
#   stonith_admin --list-targets maestro-primary-fence
