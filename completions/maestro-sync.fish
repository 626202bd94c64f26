# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_sync_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_sync_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_sync_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_sync_using_subcommand
    set -l cmd (__fish_maestro_sync_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -s V -l version -d 'Print version'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "push" -d 'On the sending server: take a point in time and make it a verified generation on the other server'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "pull" -d 'On the receiving server: the same, driven from here'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "status" -d 'The replica here: the current generation, its age (the RPO), partial and held generations, the last runs'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "hold" -d 'Pin the current generation: no sync replaces or prunes it until `release` (a Maestro start runs this)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "release" -d 'Unpin the held generation, so that syncs replace it again (after the failback)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "receive" -d 'The receiving side of a run, started over SSH by `push` (or run here by `pull`)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "serve" -d 'The sending side of a run, started over SSH by `pull`: takes the point in time and keeps it until the transfer ends'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "rsync-wrap" -d 'Run rsync for the other side and record its CPU time (rsync\'s --rsync-path)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "relay" -d 'rsync\'s remote shell: carries rsync\'s stream through the run\'s own session (rsync\'s -e)'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-sync -n "__fish_maestro_sync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l deadline -d 'Bound on the whole run [default: [sync] deadline, else 12h]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l reverse -d 'The failback direction: from the failover to the primary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l no-snapshot -d 'Take no snapshot: copy the live data and mark the generation as not a point in time (only for a stopped Maestro)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l discard-changes -d 'Replace the receiving side\'s current generation even though it changed since it was received (Maestro ran from it): its changes are lost'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -l dry-run -d 'Print what would run (snapshot commands, capture, rsync, SSH) and change nothing'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l deadline -d 'Bound on the whole run [default: [sync] deadline, else 12h]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l reverse -d 'The failback direction: from the failover to the primary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l no-snapshot -d 'Take no snapshot: copy the live data and mark the generation as not a point in time (only for a stopped Maestro)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l discard-changes -d 'Replace the receiving side\'s current generation even though it changed since it was received (Maestro ran from it): its changes are lost'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -l dry-run -d 'Print what would run (snapshot commands, capture, rsync, SSH) and change nothing'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand pull" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -s w -l warning -d 'The RPO (age of the current generation) that warns [default: [sync] rpo_warning, else two intervals]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -s c -l critical -d 'The RPO that is critical [default: [sync] rpo_critical, else four intervals]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -l limit -d 'How many recent runs to list' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -l wait -d 'How long to wait for a running sync [default: [sync] lock_wait, else 60s]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand hold" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -l wait -d 'How long to wait for a running sync [default: [sync] lock_wait, else 60s]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l from -d 'The sending host, for the journal' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l deadline -d 'Bound on the receiving side [default: [sync] deadline]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l alive-every -d 'How often the sender says it is alive: three times as long without a word ends the run [default: a quarter of [sync] io_timeout, 1s to 10s]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l reverse -d 'The run is a failback (no fence state is asked here)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l no-snapshot -d 'The generation will not be a point in time (the sender took no snapshot)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l discard-changes -d 'Replace a current generation that changed since it was received'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -l look-first -d 'Compare the current generation with its manifest before saying ready (the sender\'s snapshot, which pauses nothing, is already being taken)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand receive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l deadline -d 'Bound on the sending side [default: [sync] deadline]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l alive-every -d 'How often the receiving side says it is alive: three times as long without a word ends the run [default: a quarter of [sync] io_timeout, 1s to 10s]' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l reverse -d 'The run is a failback (no fence marker is asked here)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -l no-snapshot -d 'Take no snapshot (see `push --no-snapshot`)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -l usage -d 'Where to add a line with rsync\'s CPU time' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand rsync-wrap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand relay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "push" -d 'On the sending server: take a point in time and make it a verified generation on the other server'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "pull" -d 'On the receiving server: the same, driven from here'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "status" -d 'The replica here: the current generation, its age (the RPO), partial and held generations, the last runs'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "hold" -d 'Pin the current generation: no sync replaces or prunes it until `release` (a Maestro start runs this)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "release" -d 'Unpin the held generation, so that syncs replace it again (after the failback)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "receive" -d 'The receiving side of a run, started over SSH by `push` (or run here by `pull`)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "serve" -d 'The sending side of a run, started over SSH by `pull`: takes the point in time and keeps it until the transfer ends'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "rsync-wrap" -d 'Run rsync for the other side and record its CPU time (rsync\'s --rsync-path)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "relay" -d 'rsync\'s remote shell: carries rsync\'s stream through the run\'s own session (rsync\'s -e)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and not __fish_seen_subcommand_from push pull status hold release receive serve rsync-wrap relay config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-sync -n "__fish_maestro_sync_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
