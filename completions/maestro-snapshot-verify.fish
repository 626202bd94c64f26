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
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "capture" -d 'Walk the data roots and write a manifest (JSON Lines) of every entry with its SHA-256'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "check" -d 'Check the replica here: against a manifest of the primary, and for leftovers, skew, InnoDB and MyISAM state'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "diff" -d 'Compare two manifests: A is the reference, B the copy'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l root -d 'A root to walk, `DIR` or `NAME=DIR` (repeatable) [default: the site\'s HUB, LUI, Tracker and DB data folders]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l exclude -d 'Leave out paths matching GLOB, relative to their root; without `/` it matches a name at any depth (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l threads -d 'Hashing threads [default: every core]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -s o -l out -d 'Write the manifest to FILE instead of stdout (`-` is stdout)' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l label -d 'Store the manifest in the catalog under this label (for `check --manifest-label`)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l rehash -d 'Read and hash every file, ignoring the hash cache'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -l from-snapshot -d 'The roots are a frozen snapshot (LVM, ZFS, VSS): any file that changes while read is CRITICAL'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l root -d 'A root to walk, `DIR` or `NAME=DIR` (repeatable) [default: the site\'s HUB, LUI, Tracker and DB data folders]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l exclude -d 'Leave out paths matching GLOB, relative to their root; without `/` it matches a name at any depth (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l threads -d 'Hashing threads [default: every core]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l manifest -d 'The primary\'s manifest to compare with (`-` reads stdin)' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l manifest-label -d 'The newest manifest stored in the catalog under LABEL' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l remote-manifest -d 'With --remote: read this manifest file on the primary over SFTP instead of running a capture' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l remote-timeout -d 'With --remote: how long the remote capture or read may take [default: 1h]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l max-skew -d 'Largest gap allowed between the newest modification times of two components [default: 5m]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l partial-dir -d 'Name of an rsync --partial-dir folder that means an interrupted transfer (repeatable) [default: .rsync-partial]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l innodb -d 'How an InnoDB log format (or pages) this tool does not read counts: strict (WARNING) or best-effort (OK, with the reason and this setting named); a mixed or broken copy is CRITICAL either way [default: strict]' -r -f -a "strict\t'A log or page format the tool does not read is a WARNING'
best-effort\t'Accepted as OK, the reason kept in the message: for sites that know their log format is not read here and still want the gate to pass. Never excuses evidence of a mixed copy'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l sync-lock-wait -d 'How long to wait for a running maestro-sync when a root lies in its generations folder (the check shares the folder\'s lock) [default: 10m]' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l rehash -d 'Read and hash every file, ignoring the hash cache'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l remote -d 'Get the manifest from the primary ([primary] in the config) over SSH: run `capture` there, or read --remote-manifest over SFTP'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l accept-new-host-key -d 'With --remote: add an unknown host key of the primary to known_hosts (a changed key is always refused)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -l quick -d 'Compare metadata only (type, size, mode, mtime), not content: rsync\'s quick check'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -l quick -d 'Compare metadata only, not hashes'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
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
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from capture check diff config help" -f -a "capture" -d 'Walk the data roots and write a manifest (JSON Lines) of every entry with its SHA-256'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from capture check diff config help" -f -a "check" -d 'Check the replica here: against a manifest of the primary, and for leftovers, skew, InnoDB and MyISAM state'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from capture check diff config help" -f -a "diff" -d 'Compare two manifests: A is the reference, B the copy'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from capture check diff config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and not __fish_seen_subcommand_from capture check diff config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-snapshot-verify -n "__fish_maestro_snapshot_verify_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
