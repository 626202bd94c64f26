# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_fence_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_fence_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_fence_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_fence_using_subcommand
    set -l cmd (__fish_maestro_fence_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -s V -l version -d 'Print version'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "fence" -d 'Fence the primary: try the levels in order until one is confirmed (0 fenced at the first level, 1 fenced at a later one, 2 NOT fenced)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "status" -d 'Is the primary fenced now, per level (0 yes, verified; 2 no; 3 cannot tell)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "check" -d 'Pre-start gate on the failover server (ExecStartPre=): OK only after a confirmed fence newer than the last unfence, re-verified live where possible'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "guard" -d 'On the primary, before Maestro starts: exit 2 when fenced (marker present, or the failover server holds a newer epoch)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "unfence" -d 'Failback: re-enable the services on the primary (not started), remove the marker and the isolation, new epoch'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "epoch" -d 'Print the current fencing epoch (the token)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "history" -d 'Print the fence journal, newest first (-v: every step)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "agent" -d 'Fence-agent mode for Pacemaker (FenceAgentAPI; the same as invoking the binary as fence_maestro)'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-fence -n "__fish_maestro_fence_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l level -d 'A level to try, in order (repeatable) [default: fence.levels, else ssh then isolate]' -r -f -a "ssh\t'Over SSH on the primary: stop and disable the services and the sync'
agent\t'Through a fence agent of the fence-agents project (power, hypervisor, cloud)'
isolate\t'On this failover server: firewall the primary out, close the inbound sync'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l deadline -d 'The whole run\'s deadline [default: fence.deadline, else 60s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l command-timeout -d 'Each command\'s timeout [default: fence.command_timeout, else 15s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -l dry-run -d 'Print exactly what would run where; change nothing'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand fence" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l level -d 'A level to ask (repeatable) [default: fence.levels]' -r -f -a "ssh\t'Over SSH on the primary: stop and disable the services and the sync'
agent\t'Through a fence agent of the fence-agents project (power, hypervisor, cloud)'
isolate\t'On this failover server: firewall the primary out, close the inbound sync'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l deadline -d 'The whole run\'s deadline [default: fence.deadline, else 60s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l command-timeout -d 'Each command\'s timeout [default: fence.command_timeout, else 15s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l deadline -d 'The whole run\'s deadline [default: fence.deadline, else 60s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l command-timeout -d 'Each command\'s timeout [default: fence.command_timeout, else 15s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l unreachable -d 'When the failover server cannot be asked [default: fence.guard_unreachable, else refuse]' -r -f -a "refuse\t''
allow\t''"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l deadline -d 'The whole run\'s deadline [default: fence.deadline, else 60s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l command-timeout -d 'Each command\'s timeout [default: fence.command_timeout, else 15s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand guard" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l deadline -d 'The whole run\'s deadline [default: fence.deadline, else 60s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l command-timeout -d 'Each command\'s timeout [default: fence.command_timeout, else 15s]' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l resume-sync -d 'Also resume the file synchronization (timer, cron entries, task, sync key, rsync daemon)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -l dry-run -d 'Print exactly what would run where; change nothing'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand unfence" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand epoch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -l limit -d 'How many epochs' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand agent" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "fence" -d 'Fence the primary: try the levels in order until one is confirmed (0 fenced at the first level, 1 fenced at a later one, 2 NOT fenced)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "status" -d 'Is the primary fenced now, per level (0 yes, verified; 2 no; 3 cannot tell)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "check" -d 'Pre-start gate on the failover server (ExecStartPre=): OK only after a confirmed fence newer than the last unfence, re-verified live where possible'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "guard" -d 'On the primary, before Maestro starts: exit 2 when fenced (marker present, or the failover server holds a newer epoch)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "unfence" -d 'Failback: re-enable the services on the primary (not started), remove the marker and the isolation, new epoch'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "epoch" -d 'Print the current fencing epoch (the token)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "history" -d 'Print the fence journal, newest first (-v: every step)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "agent" -d 'Fence-agent mode for Pacemaker (FenceAgentAPI; the same as invoking the binary as fence_maestro)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and not __fish_seen_subcommand_from fence status check guard unfence epoch history agent config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-fence -n "__fish_maestro_fence_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
