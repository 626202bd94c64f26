# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_maestro_smoketest_global_optspecs
    string join \n config= set= format= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_maestro_smoketest_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_maestro_smoketest_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_maestro_smoketest_using_subcommand
    set -l cmd (__fish_maestro_smoketest_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -s V -l version -d 'Print version'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "all" -d 'Trigger, wait for the message, click its tracker links, bounce it'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "deliver" -d 'Trigger and wait for the test message in the seed mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "click" -d 'Get the test message, then request its tracker links and check the redirects'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "bounce" -d 'Get the test message, then send a DSN (5.1.1) to its bounce address'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l trigger-url -d 'Maestro\'s trigger URL without the token, like https://maestro.example.org/lui/externalAction.do [default: [smoketest] trigger_url]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l trigger-token-file -d 'File holding the trigger token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l trigger-token-env -d 'Environment variable holding the trigger token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l since -d 'With --no-trigger: how old the test message may be' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l mailbox -d 'Seed mailbox: imaps://USER@HOST[:993]/FOLDER, imap://USER@HOST[:143]/FOLDER (STARTTLS required) or maildir:/PATH [default: [smoketest] mailbox]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l password-file -d 'File holding the IMAP password' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l password-env -d 'Environment variable holding the IMAP password' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l ca-file -d 'PEM file of CA certificates to trust for IMAPS/STARTTLS besides the built-in roots' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l junk-folder -d 'Folder where a copy counts as junk [default: the \\Junk folder, else Junk or Spam]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l subject -d 'The test message\'s subject contains this [default: "maestro-ha smoke test"]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l marker -d 'The test message contains this marker (instead of matching the subject)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l timeout -d 'How long to wait for the test message [default: 120s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l message -d 'Read the test message from this file (`-`: stdin) instead of a mailbox; no trigger' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l tracker-host -d 'Tracker HOST or HOST:PORT the links must point to [default: any /trk/click?ref= link]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l server-address -d 'An address of this server the tracker host name may resolve to (repeatable) [default: this machine\'s interface addresses]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l expect-target -d 'Where the tracker must redirect to (repeatable: any one of them)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l report-url -d 'Maestro\'s report export URL without the token (confirms that clicks and bounces were counted)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l report-token-file -d 'File holding the report export token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l report-token-env -d 'Environment variable holding the report export token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l report-timeout -d 'How long to wait for the report to count a click or a bounce [default: 60s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l smtp -d 'LISTSERV\'s SMTP listener for the bounce, HOST:PORT [default: the trigger URL\'s host, port 25]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l bounce-recipient -d 'The seed address the bounce reports as failed [default: the test message\'s recipient]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l io-timeout -d 'Bound on every single network step (HTTP request, SMTP session, IMAP command) [default: 10s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l no-trigger -d 'Do not trigger: a person sent the test mailing (it must have arrived within --since)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l insecure-plain -d 'Allow imap:// without STARTTLS: the password crosses the network in clear. Only for loopback test servers'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -l keep -d 'Leave the test message in the mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand all" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l trigger-url -d 'Maestro\'s trigger URL without the token, like https://maestro.example.org/lui/externalAction.do [default: [smoketest] trigger_url]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l trigger-token-file -d 'File holding the trigger token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l trigger-token-env -d 'Environment variable holding the trigger token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l since -d 'With --no-trigger: how old the test message may be' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l mailbox -d 'Seed mailbox: imaps://USER@HOST[:993]/FOLDER, imap://USER@HOST[:143]/FOLDER (STARTTLS required) or maildir:/PATH [default: [smoketest] mailbox]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l password-file -d 'File holding the IMAP password' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l password-env -d 'Environment variable holding the IMAP password' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l ca-file -d 'PEM file of CA certificates to trust for IMAPS/STARTTLS besides the built-in roots' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l junk-folder -d 'Folder where a copy counts as junk [default: the \\Junk folder, else Junk or Spam]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l subject -d 'The test message\'s subject contains this [default: "maestro-ha smoke test"]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l marker -d 'The test message contains this marker (instead of matching the subject)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l timeout -d 'How long to wait for the test message [default: 120s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l message -d 'Read the test message from this file (`-`: stdin) instead of a mailbox; no trigger' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l tracker-host -d 'Tracker HOST or HOST:PORT the links must point to [default: any /trk/click?ref= link]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l server-address -d 'An address of this server the tracker host name may resolve to (repeatable) [default: this machine\'s interface addresses]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l expect-target -d 'Where the tracker must redirect to (repeatable: any one of them)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l report-url -d 'Maestro\'s report export URL without the token (confirms that clicks and bounces were counted)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l report-token-file -d 'File holding the report export token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l report-token-env -d 'Environment variable holding the report export token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l report-timeout -d 'How long to wait for the report to count a click or a bounce [default: 60s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l smtp -d 'LISTSERV\'s SMTP listener for the bounce, HOST:PORT [default: the trigger URL\'s host, port 25]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l bounce-recipient -d 'The seed address the bounce reports as failed [default: the test message\'s recipient]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l io-timeout -d 'Bound on every single network step (HTTP request, SMTP session, IMAP command) [default: 10s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l no-trigger -d 'Do not trigger: a person sent the test mailing (it must have arrived within --since)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l insecure-plain -d 'Allow imap:// without STARTTLS: the password crosses the network in clear. Only for loopback test servers'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -l keep -d 'Leave the test message in the mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand deliver" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l trigger-url -d 'Maestro\'s trigger URL without the token, like https://maestro.example.org/lui/externalAction.do [default: [smoketest] trigger_url]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l trigger-token-file -d 'File holding the trigger token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l trigger-token-env -d 'Environment variable holding the trigger token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l since -d 'With --no-trigger: how old the test message may be' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l mailbox -d 'Seed mailbox: imaps://USER@HOST[:993]/FOLDER, imap://USER@HOST[:143]/FOLDER (STARTTLS required) or maildir:/PATH [default: [smoketest] mailbox]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l password-file -d 'File holding the IMAP password' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l password-env -d 'Environment variable holding the IMAP password' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l ca-file -d 'PEM file of CA certificates to trust for IMAPS/STARTTLS besides the built-in roots' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l junk-folder -d 'Folder where a copy counts as junk [default: the \\Junk folder, else Junk or Spam]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l subject -d 'The test message\'s subject contains this [default: "maestro-ha smoke test"]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l marker -d 'The test message contains this marker (instead of matching the subject)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l timeout -d 'How long to wait for the test message [default: 120s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l message -d 'Read the test message from this file (`-`: stdin) instead of a mailbox; no trigger' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l tracker-host -d 'Tracker HOST or HOST:PORT the links must point to [default: any /trk/click?ref= link]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l server-address -d 'An address of this server the tracker host name may resolve to (repeatable) [default: this machine\'s interface addresses]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l expect-target -d 'Where the tracker must redirect to (repeatable: any one of them)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l report-url -d 'Maestro\'s report export URL without the token (confirms that clicks and bounces were counted)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l report-token-file -d 'File holding the report export token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l report-token-env -d 'Environment variable holding the report export token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l report-timeout -d 'How long to wait for the report to count a click or a bounce [default: 60s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l smtp -d 'LISTSERV\'s SMTP listener for the bounce, HOST:PORT [default: the trigger URL\'s host, port 25]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l bounce-recipient -d 'The seed address the bounce reports as failed [default: the test message\'s recipient]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l io-timeout -d 'Bound on every single network step (HTTP request, SMTP session, IMAP command) [default: 10s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l no-trigger -d 'Do not trigger: a person sent the test mailing (it must have arrived within --since)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l insecure-plain -d 'Allow imap:// without STARTTLS: the password crosses the network in clear. Only for loopback test servers'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -l keep -d 'Leave the test message in the mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand click" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l trigger-url -d 'Maestro\'s trigger URL without the token, like https://maestro.example.org/lui/externalAction.do [default: [smoketest] trigger_url]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l trigger-token-file -d 'File holding the trigger token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l trigger-token-env -d 'Environment variable holding the trigger token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l since -d 'With --no-trigger: how old the test message may be' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l mailbox -d 'Seed mailbox: imaps://USER@HOST[:993]/FOLDER, imap://USER@HOST[:143]/FOLDER (STARTTLS required) or maildir:/PATH [default: [smoketest] mailbox]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l password-file -d 'File holding the IMAP password' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l password-env -d 'Environment variable holding the IMAP password' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l ca-file -d 'PEM file of CA certificates to trust for IMAPS/STARTTLS besides the built-in roots' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l junk-folder -d 'Folder where a copy counts as junk [default: the \\Junk folder, else Junk or Spam]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l subject -d 'The test message\'s subject contains this [default: "maestro-ha smoke test"]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l marker -d 'The test message contains this marker (instead of matching the subject)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l timeout -d 'How long to wait for the test message [default: 120s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l message -d 'Read the test message from this file (`-`: stdin) instead of a mailbox; no trigger' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l tracker-host -d 'Tracker HOST or HOST:PORT the links must point to [default: any /trk/click?ref= link]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l server-address -d 'An address of this server the tracker host name may resolve to (repeatable) [default: this machine\'s interface addresses]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l expect-target -d 'Where the tracker must redirect to (repeatable: any one of them)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l report-url -d 'Maestro\'s report export URL without the token (confirms that clicks and bounces were counted)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l report-token-file -d 'File holding the report export token' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l report-token-env -d 'Environment variable holding the report export token' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l report-timeout -d 'How long to wait for the report to count a click or a bounce [default: 60s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l smtp -d 'LISTSERV\'s SMTP listener for the bounce, HOST:PORT [default: the trigger URL\'s host, port 25]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l bounce-recipient -d 'The seed address the bounce reports as failed [default: the test message\'s recipient]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l io-timeout -d 'Bound on every single network step (HTTP request, SMTP session, IMAP command) [default: 10s]' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l no-trigger -d 'Do not trigger: a person sent the test mailing (it must have arrived within --since)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l insecure-plain -d 'Allow imap:// without STARTTLS: the password crosses the network in clear. Only for loopback test servers'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -l keep -d 'Leave the test message in the mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand bounce" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -l set -d 'Override one configuration key, like site.install_root=/srv/maestro (repeatable)' -r
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -l format -d 'Output format' -r -f -a "text\t'One line a finding, for a person at a terminal'
json\t'JSON Lines: one object a record, each with a "type", a "summary" last'
nagios\t'A monitoring plugin\'s output: status line with perfdata, then long output'"
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -l state-dir -d 'State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]' -r -F
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Say less: only what is not OK, and the summary'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: details, timings and perfdata (-vv: debug diagnostics)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "all" -d 'Trigger, wait for the message, click its tracker links, bounce it'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "deliver" -d 'Trigger and wait for the test message in the seed mailbox'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "click" -d 'Get the test message, then request its tracker links and check the redirects'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "bounce" -d 'Get the test message, then send a DSN (5.1.1) to its bounce address'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "config" -d 'Work with the shared configuration file'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and not __fish_seen_subcommand_from all deliver click bounce config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c maestro-smoketest -n "__fish_maestro_smoketest_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Read and validate the configuration; errors name the file, line and key'
