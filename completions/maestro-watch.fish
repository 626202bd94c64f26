# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_watch_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_watch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_watch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_watch_using_subcommand
    set -l cmd (__fish_maestro_watch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -s V -l version -d 'Print version'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -f -a "once" -d 'Evaluate now: 0 up, 1 suspect/below threshold/partition, 2 down confirmed, 3 cannot decide'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -f -a "run" -d 'Evaluate every interval, print an event on each state change, run --exec once when DOWN is confirmed'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -f -a "probe" -d 'Run the probes only and report each (what a witness runs)'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-watch -n "__fish_maestro_watch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l target -d 'The primary as probed [default: [watch] target, else [primary] host]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l tcp -d 'TCP port of the target, or HOST:PORT, to connect to (repeatable). Any probe flag replaces the configured probes [default: 80, 443, 25, 1099, 3306]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l http -d 'URL to GET without following redirects (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l http-expect -d 'HTTP status that counts as up (repeatable) [default: any 2xx or 3xx]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l icmp-host -d 'Ping this host (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l probe-timeout -d 'Timeout of each probe [default: 3s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l threshold -d 'How long every probe must fail before DOWN is confirmed [default: 120s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l interval -d 'Time between evaluations; also the expected spacing of `once` runs (a gap of more than three restarts the timer) [default: 10s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l gateway -d 'HOST:PORT (TCP) or HOST (ping) that proves this host is connected' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -l icmp -d 'Also ping the target (`ping` on Linux, the ICMP API on Windows; an ICMP-only failure never means DOWN)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand once" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l target -d 'The primary as probed [default: [watch] target, else [primary] host]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l tcp -d 'TCP port of the target, or HOST:PORT, to connect to (repeatable). Any probe flag replaces the configured probes [default: 80, 443, 25, 1099, 3306]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l http -d 'URL to GET without following redirects (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l http-expect -d 'HTTP status that counts as up (repeatable) [default: any 2xx or 3xx]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l icmp-host -d 'Ping this host (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l probe-timeout -d 'Timeout of each probe [default: 3s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l threshold -d 'How long every probe must fail before DOWN is confirmed [default: 120s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l interval -d 'Time between evaluations; also the expected spacing of `once` runs (a gap of more than three restarts the timer) [default: 10s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l gateway -d 'HOST:PORT (TCP) or HOST (ping) that proves this host is connected' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l exec -d 'Command run once through `sh -c` when DOWN is confirmed [default: [watch] exec]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l exec-timeout -d 'Bound on the --exec command; it is killed after [default: 30m]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l for -d 'Stop after this long and report the last state (default: run until interrupted)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -l icmp -d 'Also ping the target (`ping` on Linux, the ICMP API on Windows; an ICMP-only failure never means DOWN)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l target -d 'The primary as probed [default: [watch] target, else [primary] host]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l tcp -d 'TCP port of the target, or HOST:PORT, to connect to (repeatable). Any probe flag replaces the configured probes [default: 80, 443, 25, 1099, 3306]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l http -d 'URL to GET without following redirects (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l http-expect -d 'HTTP status that counts as up (repeatable) [default: any 2xx or 3xx]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l icmp-host -d 'Ping this host (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l probe-timeout -d 'Timeout of each probe [default: 3s]' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -l icmp -d 'Also ping the target (`ping` on Linux, the ICMP API on Windows; an ICMP-only failure never means DOWN)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and not __fish_seen_subcommand_from once run probe config help" -f -a "once" -d 'Evaluate now: 0 up, 1 suspect/below threshold/partition, 2 down confirmed, 3 cannot decide'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and not __fish_seen_subcommand_from once run probe config help" -f -a "run" -d 'Evaluate every interval, print an event on each state change, run --exec once when DOWN is confirmed'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and not __fish_seen_subcommand_from once run probe config help" -f -a "probe" -d 'Run the probes only and report each (what a witness runs)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and not __fish_seen_subcommand_from once run probe config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and not __fish_seen_subcommand_from once run probe config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-watch -n "__fish_maestro_watch_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
