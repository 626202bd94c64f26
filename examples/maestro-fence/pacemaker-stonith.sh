#!/bin/sh
# Pacemaker: fence the old Maestro primary with fence_maestro before Maestro
# starts on the failover node. Install the agent link first:
#   ln -s /usr/local/bin/maestro-fence /usr/sbin/fence_maestro
# Pacemaker passes the options on stdin (FenceAgentAPI); fence_maestro reads
# everything else (services, sync, levels) from the maestro-ha config.
pcs stonith create maestro-primary-fence fence_maestro \
    config_file=/etc/maestro-ha/config.toml \
    state_dir=/var/lib/maestro-ha \
    power_timeout=60 \
    pcmk_host_list=maestro1 \
    pcmk_reboot_action=off \
    op monitor interval=120s

# Fencing topology: IPMI power fencing first, fence_maestro after it (or the
# other way round; Pacemaker stops at the first level that succeeds):
#   pcs stonith create maestro1-ipmi fence_ipmilan ip=10.0.0.9 username=admin \
#       password_script=/etc/maestro-ha/ipmi-password pcmk_host_list=maestro1
#   pcs stonith level add 1 maestro1 maestro1-ipmi
#   pcs stonith level add 2 maestro1 maestro-primary-fence

# Check it by hand (exit 0 on = not fenced, 2 off = fenced, 1 cannot tell):
#   printf 'action=status\nconfig_file=/etc/maestro-ha/config.toml\n' | fence_maestro
