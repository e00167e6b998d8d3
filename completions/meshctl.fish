# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_meshctl_global_optspecs
    string join \n kubeconfig= context= n/namespace= o/output= v/verbose q/quiet no-color y/yes log-format= request-timeout= h/help V/version
end

function __fish_meshctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_meshctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_meshctl_using_subcommand
    set -l cmd (__fish_meshctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c meshctl -n "__fish_meshctl_needs_command" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_needs_command" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_needs_command" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_needs_command" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_needs_command" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_needs_command" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_needs_command" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_needs_command" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "check" -d 'Diagnose an installation, or with --pre a cluster before install'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "version" -d 'Print the version, git commit, build date and target of meshctl'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "completion" -d 'Print the shell completion script for bash, zsh, fish, powershell or elvish'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "x" -d 'Developer and experimental tools'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l wait -d 'Retry checks that can still become healthy for up to this long (0s: run each check once)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l timeout -d 'Timeout of each call to an API server, the admin API or DNS' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l mgmt-admin-address -d 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l remote-context -d 'Also check the agent on the workload cluster of this kubeconfig context (repeatable)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l junit -d 'Also write a JUnit XML report to PATH for CI systems (\'-\': to stdout, instead of the report)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l pre -d 'Check that the cluster can take an install (API, permissions, version, conflicts, LoadBalancer)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l fail-on-warnings -d 'Exit 1 when a check warns, not only when one fails'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference" -f -a "generate-reference" -d 'Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l out -d 'Repository root to write into' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l check -d 'Only report stale files (exit 1 if any), write nothing'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s h -l help -d 'Print help (see more with \'--help\')'
