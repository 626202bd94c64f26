# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_snapshot_verify_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_snapshot_verify_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_snapshot_verify_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_snapshot_verify_using_subcommand
    set -l cmd (__fish_maestro_snapshot_verify_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -s V -l version -d 'Print version'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
