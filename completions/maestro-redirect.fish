# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_redirect_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_redirect_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_redirect_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_redirect_using_subcommand
    set -l cmd (__fish_maestro_redirect_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -s V -l version -d 'Print version'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -f -a "move" -d 'Move the traffic to this server by each method and verify it (0 verified, 1 with warnings, 2 not redirected, 3 cannot tell)'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -f -a "undo" -d 'Failback: reverse each method (release the address, point the names back to the old primary, the undo command)'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -f -a "check" -d 'What still points at the old primary: INI values, the names from here and from the witnesses, the SMTP relay, ports'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-redirect -n "__fish_maestro_redirect_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l method -d 'A method to run, in order (repeatable) [default: redirect.methods]' -r -f -a "ip\t'A floating service address: added here, announced, verified from the witnesses'
dns\t'A TSIG-signed dynamic update of the names\' A/AAAA records (RFC 2136)'
command\t'The admin\'s own commands (NAT, load balancer, cloud API) with a verify command'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l deadline -d 'The whole run\'s deadline [default: redirect.deadline, else 120s]' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -l dry-run -d 'Print every change and where it would be made; change nothing'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand move" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l method -d 'A method to run, in order (repeatable) [default: redirect.methods]' -r -f -a "ip\t'A floating service address: added here, announced, verified from the witnesses'
dns\t'A TSIG-signed dynamic update of the names\' A/AAAA records (RFC 2136)'
command\t'The admin\'s own commands (NAT, load balancer, cloud API) with a verify command'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l deadline -d 'The whole run\'s deadline [default: redirect.deadline, else 120s]' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -l dry-run -d 'Print every change and where it would be made; change nothing'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand undo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l old-address -d 'An address or name of the old server (repeatable) [default: redirect.old_addresses, else the [primary] host and addresses]' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l deadline -d 'The whole run\'s deadline [default: redirect.deadline, else 120s]' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and not __fish_seen_subcommand_from move undo check config help" -f -a "move" -d 'Move the traffic to this server by each method and verify it (0 verified, 1 with warnings, 2 not redirected, 3 cannot tell)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and not __fish_seen_subcommand_from move undo check config help" -f -a "undo" -d 'Failback: reverse each method (release the address, point the names back to the old primary, the undo command)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and not __fish_seen_subcommand_from move undo check config help" -f -a "check" -d 'What still points at the old primary: INI values, the names from here and from the witnesses, the SMTP relay, ports'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and not __fish_seen_subcommand_from move undo check config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and not __fish_seen_subcommand_from move undo check config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-redirect -n "__fish_maestro_redirect_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
