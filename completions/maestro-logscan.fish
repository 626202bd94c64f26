# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_logscan_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose component= date= since= until= since-start since-start-after= missing-ok timestamp-format= rules= list-rules write-patterns= min-severity= follow until-ready timeout= poll-interval= incremental max-line-bytes= h/help V/version
end

function __fish_maestro_logscan_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_logscan_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_logscan_using_subcommand
    set -l cmd (__fish_maestro_logscan_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l component -d 'Which log: picks the file of the day and the rule pack (lui, hub, tracker: Maestro; db: InnoDB/MariaDB) [default: lui, or [logscan] component]' -r -f -a "lui\t''
hub\t''
tracker\t''
db\t''"
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l date -d 'The day whose log to read (YYYY-MM-DD, local) [default: today]' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l since -d 'Only records at or after TIME (2026-11-26T08:00, "2026-11-26 08:00:00", 08:00 today) or DURATION ago (15m)' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l until -d 'Only records at or before TIME or DURATION ago' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l since-start-after -d 'Like --since-start, for the start that began at or after TIME (noted before starting Maestro): an earlier start\'s lines in the same log never count; with --follow, a start logged before following began is read too' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l timestamp-format -d 'strftime format of the timestamps records start with, instead of auto-detection' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l rules -d 'A TOML rule file that adds or overrides rules (repeatable; after [logscan] rules)' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l write-patterns -d 'Write the regexes of the rules that apply to FILE, one a line (for `rg -f`, `grep -E -f`), and exit' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l min-severity -d 'Report only findings of this severity or worse [default: info]' -r -f -a "info\t''
warning\t''
critical\t''"
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l timeout -d 'With --follow, and for standard input (`-`): give up after this long [default: 10m]' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l poll-interval -d 'With --follow: how often to look for new lines [default: 250ms]' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l max-line-bytes -d 'The longest line kept whole, in bytes; the rest of a longer line is skipped [default: 1048576]' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l since-start -d 'Only records from the last startup marker of the component\'s pack on; with --follow, only a start appended after following began (see --since-start-after)'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l missing-ok -d 'A missing log file is OK, not UNKNOWN'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l list-rules -d 'List the rules that apply (with --component) and exit'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l follow -d 'Keep reading the log as it grows (it may not exist yet, and may rotate at midnight)'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l until-ready -d 'With --follow: return when the readiness marker appears (0/1), at once on a critical finding (2), or at --timeout (2)'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -l incremental -d 'Scan only what is new since the last --incremental run (offsets kept in the state catalog)'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -s V -l version -d 'Print version'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -a "config" -d 'Work with the shared configuration file'
complete -c maestro-logscan -n "__fish_maestro_logscan_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand help; and not __fish_seen_subcommand_from config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand help; and not __fish_seen_subcommand_from config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-logscan -n "__fish_maestro_logscan_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
