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
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_needs_command" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_needs_command" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_needs_command" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_needs_command" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_needs_command" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "install" -d 'Install the platform from the manifests embedded in this binary (no download: works air-gapped)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "upgrade" -d 'Upgrade an existing installation to this meshctl\'s version'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "uninstall" -d 'Delete what meshctl installed in the namespace (by label), and wait until it is gone'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "check" -d 'Diagnose an installation, or with --pre a cluster before install'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "cluster" -d 'Register workload clusters with the management server, deregister and list them'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "demo" -d 'Run a management server and two agents on loopback with sample clusters (no Kubernetes needed)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "get" -d 'Show what the management server knows (read from its admin API)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "serve" -d 'Run the management server or the agent (long-running)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "license" -d 'Manage license keys: check, show and apply them; keygen and issue for issuers'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "dashboard" -d 'Open the management server\'s dashboard in a browser, through a local proxy'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "debug" -d 'Collect what support needs: a redacted bundle of an installation'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "version" -d 'Print the version, git commit, build date and target of meshctl'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "completion" -d 'Print the shell completion script for bash, zsh, fish, powershell or elvish'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "x" -d 'Developer and experimental tools'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l profile -d 'What to install' -r -f -a "mgmt\t'Management cluster: CRDs, management server, optional Redis and Prometheus'
agent\t'Workload cluster: the agent'
single-cluster\t'Management server and agent in one cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s f -l values -d 'Values file (YAML); repeatable, later files win' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l set -d 'Set a value: a.b=c, list[0]=x, list={x,y}, a\\.b=c (typed: true/false/null/integers); repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l set-string -d 'Set a value, always as a string; repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l wait -d 'Wait until the deployments are available (--wait=false to return after applying)' -r -f -a "true\t''
false\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l timeout -d 'Give up after this long (applying and waiting together), e.g. 90s, 5m' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l key -l license-key -d 'The license key (visible in the process list: prefer --key-file or MESHCTL_LICENSE_KEY)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l key-file -d 'Read the license key from FILE (\'-\' reads stdin)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l dry-run -d 'Print the rendered manifests (multi-document YAML) and touch nothing, not even the cluster'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l diff -d 'Show what would change as a unified diff (server-side dry run); changes nothing'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l force-conflicts -d 'Take over fields another field manager (kubectl, Helm, an operator) owns'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l profile -d 'Profile to render [default: the installed one]' -r -f -a "mgmt\t'Management cluster: CRDs, management server, optional Redis and Prometheus'
agent\t'Workload cluster: the agent'
single-cluster\t'Management server and agent in one cluster'"
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s f -l values -d 'Values file (YAML); repeatable, later files win' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l set -d 'Set a value: a.b=c, list[0]=x, list={x,y}, a\\.b=c (typed: true/false/null/integers); repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l set-string -d 'Set a value, always as a string; repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l wait -d 'Wait until the deployments are available (--wait=false to return after applying)' -r -f -a "true\t''
false\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l timeout -d 'Give up after this long (applying and waiting together), e.g. 90s, 5m' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l force -d 'Allow installing an older version than the one installed'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l force-conflicts -d 'Take over fields another field manager (kubectl, Helm, an operator) owns'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand upgrade" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l timeout -d 'Give up waiting for deletions after this long' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l purge -d 'Also delete the namespace and meshctl\'s Secrets in it, and meshctl\'s CRDs (and with them every resource of those kinds, in all namespaces) unless another installation still uses them'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l wait -d 'Retry checks that can still become healthy for up to this long (0s: run each check once)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l timeout -d 'Timeout of each call to an API server, the admin API or DNS' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l mgmt-admin-address -d 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l remote-context -d 'Also include the agent on the workload cluster of this kubeconfig context (repeatable)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l agent-namespace -d 'Namespace of the agent on the --remote-context clusters, when `cluster register` put it elsewhere (--set namespace=NS) [default: the -n namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l junit -d 'Also write a JUnit XML report to PATH for CI systems (\'-\': to stdout, instead of the report)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
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
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -f -a "register" -d 'Register a workload cluster: token, root CA and agent on the remote, KubernetesCluster on the management cluster; then wait until the agent is connected'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -f -a "deregister" -d 'Remove a workload cluster: the agent, the copied Secrets and the agent\'s certificate on the workload cluster, the token and the KubernetesCluster on the management cluster'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and not __fish_seen_subcommand_from register deregister list" -f -a "list" -d 'List registered clusters: registered, connected, agent version and skew, last seen, snapshot age and size, certificate expiry'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l remote-context -d 'Kubeconfig context of the workload cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l relay-address -d 'HOST:PORT of the relay as reachable from the workload cluster [default: discovered from the mesh-mgmt-server Service]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l wait -d 'Wait until the server reports the cluster connected (--wait=false to return after writing)' -r -f -a "true\t''
false\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l timeout -d 'How long to wait for the connection, e.g. 90s, 5m' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l mgmt-admin-address -d 'Read the server\'s relay view at HOST:PORT (e.g. a port-forward to its admin port) instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s f -l values -d 'Values file (YAML); repeatable, later files win' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l set -d 'Set a value: a.b=c, list[0]=x, list={x,y}, a\\.b=c (typed: true/false/null/integers); repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l set-string -d 'Set a value, always as a string; repeatable' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l self -d 'Allow the workload cluster to be the management cluster itself (single-cluster setups)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from register" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l remote-context -d 'Kubeconfig context of the workload cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l mgmt-only -d 'Only clean the management cluster (the workload cluster is unreachable or gone)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from deregister" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l mgmt-admin-address -l admin-address -d 'Reach the server\'s admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l timeout -d 'Timeout of each call to the admin API' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand cluster; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l dir -d 'Directory for the demo\'s state, sample clusters and applied configuration [default: a temporary directory removed on exit]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l timeout -d 'How long to wait for the agents to connect and acknowledge their configuration' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l once -d 'Exit after one successful round: 0 only if both agents connected and their configuration was acknowledged'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and not __fish_seen_subcommand_from destinations" -f -a "destinations" -d 'List every Service discovered across clusters and the VirtualDestinations they back'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l mgmt-admin-address -d 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server\'s service proxy (Service mesh-mgmt-server-admin:9091 in -n NAMESPACE)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l timeout -d 'How long to wait for the management server' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand get; and __fish_seen_subcommand_from destinations" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -f -a "mgmt-server" -d 'Run the management server: the relay agents dial (mTLS gRPC) and the admin HTTP endpoint (/healthz, /readyz, /metrics, /api/v1/clusters)'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and not __fish_seen_subcommand_from mgmt-server agent" -f -a "agent" -d 'Run the agent of a workload cluster: bootstrap with the token, connect to the management server with mTLS, push snapshots of the cluster, apply the configuration it receives'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l relay-listen -d 'Address of the relay (gRPC over TLS) agents connect to; port 0 picks a free port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l admin-listen -d 'Address of the admin HTTP endpoint; port 0 picks a free port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l ui-listen -d 'Also serve the dashboard (the page at / and the read-only admin API, as on the admin port) on this address, e.g. 0.0.0.0:8090; port 0 picks a free port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l state-dir -d 'Directory for the relay PKI (pki/, created on first start, never overwritten) and bootstrap token records (tokens/); files are mode 0600. Without it the server runs against Kubernetes (in-cluster, or --kubeconfig/--context): PKI and tokens in Secrets of --namespace, relay state in each KubernetesCluster\'s status' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l redis-url -d 'Redis URL of the shared state store holding the agents\' snapshots, e.g. redis://mesh-redis.mesh-system.svc:6379 (a password goes in the URL as redis://:PASSWORD@host:port and is never logged). Needed when several server replicas run: they share snapshots and learn of each other\'s changes over pub/sub. Keys start with meshctl:<NAMESPACE>:. Without it snapshots are kept in memory and rebuilt from the agents after a restart' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l config-dir -d 'Directory of platform resources to translate (Workspace, VirtualDestination, RouteTable, VirtualGateway, AccessPolicy, KubernetesCluster as YAML, re-read when files change); each cluster gets the Istio/Cilium objects translated for it. Statuses: GET /api/v1/statuses' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l raw-config-dir -d 'Directory of configuration pushed without translation: PATH/<cluster>/*.yaml goes to that cluster verbatim (re-read when files change)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l license-file -d 'License key file for translation (re-read when it changes); MESHCTL_LICENSE_KEY gives the key directly' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l license-secret -d 'Secret (in -n NAMESPACE) holding the license key, re-read when it changes' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l license-secret-key -d 'Data key of the license in --license-secret' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l cluster-domain -d 'DNS suffix of Services in the workload clusters' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l cluster -d 'Register a cluster (repeatable): issues its bootstrap token if none exists and writes it to STATE_DIR/tokens/NAME.token (0600) for handing to the agent' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l reissue-token -d 'Issue a new bootstrap token for a cluster even if it has one (repeatable), e.g. after its agent lost its certificate; the old token stops working. Written like --cluster\'s' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l max-streams -d 'Maximum number of concurrent agent streams' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l max-connections -d 'Maximum number of established relay connections (with or without a stream); further connections are closed after their handshake' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l max-pending-connections-per-source -d 'Maximum number of connections from one source address that may be waiting for or running their TLS handshake at once (0: no limit); further ones are closed at once. Raise it when agents reach the server through a proxy that hides their addresses' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l max-new-streams-per-second -d 'Maximum rate of new streams, bootstraps and renewals (per second, bursts of one second\'s worth)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l server-san -l relay-server-san -d 'Extra DNS name or IP for the server certificate (repeatable), in addition to localhost, 127.0.0.1, ::1 and the mesh-mgmt-server Service names. Only used when the PKI is first created' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l client-cert-ttl -d 'Lifetime of agent client certificates, 15m to 8760h (agents renew after two thirds of it; never past the relay signing CA\'s expiry)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l heartbeat-interval -d 'How often agents must send a heartbeat; a stream silent for three intervals is closed' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l kubernetes -d 'Translate the platform resources of the management cluster (watched in -n NAMESPACE, or in all namespaces with --all-namespaces) and write their statuses back'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l all-namespaces -d 'With --kubernetes: watch platform resources in all namespaces'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from mgmt-server" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l cluster -d 'Name of this cluster as registered with the management server (a DNS label)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l relay-address -d 'Relay address of the management server (host:port)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l relay-server-name -d 'Name to verify in the server certificate [default: the host of --relay-address]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l token -d 'Bootstrap token (used once, when the state dir holds no valid certificate)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l token-file -d 'File holding the bootstrap token (re-read at each bootstrap attempt)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l token-secret -d 'Secret (in --namespace) holding the bootstrap token under key `token`, re-read at each bootstrap attempt [default without --token/--token-file/--state-dir: relay-identity-token]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l ca-file -d 'The relay root CA certificate (PEM) the server certificate must chain to [default: ca.crt of Secret relay-root-tls-secret in --namespace]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l state-dir -d 'Directory for the agent\'s key and certificate (tls.key, tls.crt, ca.crt; mode 0600) [default: Secret relay-client-tls-secret in --namespace]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l source -d 'Where the cluster\'s resources come from: kube (watch the cluster; in-cluster or --kubeconfig/--context), kube:NS[,NS...] (only those namespaces) or dir:PATH (YAML files, polled for changes)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l sink -d 'Where received configuration is applied: kube (server-side apply, field manager meshctl-agent; withdrawn objects the agent owns are deleted) or dir:PATH (one YAML file per resource; withdrawn ones are deleted)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l admin-listen -d 'Address of the admin HTTP endpoint (/healthz, /readyz, /metrics); port 0 picks a free port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l poll-interval -d 'How often the directory source is checked for changes' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand serve; and __fish_seen_subcommand_from agent" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -f -a "check" -d 'Verify a license key and report licensee, products, modules and expiry'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -f -a "show" -d 'Show the license installed in the cluster (Secret meshctl-license in the install namespace)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -f -a "apply" -d 'Verify a license key, then install it (Secret meshctl-license in the install namespace)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -f -a "keygen" -d 'Create a new issuer key pair for signing licenses (for license issuers)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and not __fish_seen_subcommand_from check show apply keygen issue" -f -a "issue" -d 'Sign a license key with an issuer private key and print it (for license issuers)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l key -l license-key -d 'The license key (visible in the process list: prefer --key-file or MESHCTL_LICENSE_KEY)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l key-file -d 'Read the license key from FILE (\'-\' reads stdin)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l fail-within-days -d 'Also fail (exit 1) when the license expires within N days' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l fail-within-days -d 'Also fail (exit 1) when the license expires within N days' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l key -l license-key -d 'The license key (visible in the process list: prefer --key-file or MESHCTL_LICENSE_KEY)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l key-file -d 'Read the license key from FILE (\'-\' reads stdin)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l trusted-issuer -d 'Also trust the issuer public key (SPKI PEM) in FILE; repeatable. MESHCTL_TRUSTED_ISSUERS adds more: a list of files separated by \':\'' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l out -d 'Directory to write the key pair into (created if missing)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l force -d 'Overwrite existing key files'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l signing-key -d 'Issuer private key (PKCS#8 PEM, from `license keygen`)' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l licensee -d 'Licensee (the `sub` claim)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l products -d 'Products to license, comma separated' -r -f -a "mesh\t''
gateway\t''
network\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l modules -d 'Modules to license, comma separated; each needs a product it extends' -r -f -a "graphql\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l expires -d 'Last day the license is valid, UTC (it expires at 23:59:59Z that day)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l days -d 'Number of days the license is valid from now' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l max-clusters -d 'Most workload clusters the license allows [default: unlimited]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l issuer -d 'Issuer name (the `iss` claim)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l trial -d 'Issue a trial license (default: enterprise)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand license; and __fish_seen_subcommand_from issue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l port -d 'Local port to serve on (0 picks a free one)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l address -d 'Local address to serve on' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l mgmt-admin-address -d 'Proxy to the server\'s admin API at HOST:PORT (which serves the dashboard too) instead of through the Kubernetes API server' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l timeout -d 'Timeout of each request to the server' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l no-browser -d 'Do not open a browser; only print the address'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and not __fish_seen_subcommand_from report" -f -a "report" -d 'Write a support bundle of the installation: objects, events, logs and relay state, with every secret redacted'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l file -d 'Where to write the bundle [default: meshctl-debug-<UTC time>.tar.gz in the current directory]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l tail -d 'Log lines kept per container' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l mgmt-admin-address -d 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l remote-context -d 'Also include the agent on the workload cluster of this kubeconfig context (repeatable)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l agent-namespace -d 'Namespace of the agent on the --remote-context clusters, when `cluster register` put it elsewhere (--set namespace=NS) [default: the -n namespace]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l timeout -d 'Timeout of each call to an API server or the admin API' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand debug; and __fish_seen_subcommand_from report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l mgmt-context -d 'Kubeconfig context of the management cluster [default: --context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l mgmt-admin-address -d 'Read the agents\' versions from the admin API at HOST:PORT instead of through the Kubernetes API server\'s service proxy' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l timeout -d 'Timeout of each call to the admin API' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand version" -l server -d 'Also report the installed management server\'s version and its agents\' (reads the cluster)'
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
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -f -a "generate-reference" -d 'Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and not __fish_seen_subcommand_from generate-reference bench" -f -a "bench" -d 'Benchmarks and load tools'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l out -d 'Repository root to write into' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l check -d 'Only report stale files (exit 1 if any), write nothing'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from generate-reference" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -l kubeconfig -d 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -l context -d 'Kubeconfig context to use [default: the current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s n -l namespace -d 'Namespace meshctl is installed in' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s o -l output -d 'Output format for commands that print data' -r -f -a "table\t'Human-readable text and tables'
json\t'JSON with stable snake_case field names'
yaml\t'YAML with the same fields as JSON'
junit\t'JUnit XML for CI systems (`meshctl check` only)'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -l log-format -d 'Log format on stderr (json suits the long-running serve commands)' -r -f -a "plain\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -l request-timeout -d 'Timeout for each Kubernetes API request (e.g. 10s, 1m)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s q -l quiet -d 'Only errors on stderr; no progress, hints or warnings'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -l no-color -d 'Disable colour (also when NO_COLOR is set)'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s y -l yes -d 'Never prompt: answer confirmations with yes, fail if a value is required'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -f -a "relay" -d 'Load-test the relay on loopback: an in-process management server and N simulated agents (bootstrap, mTLS stream, snapshot of M resources each) in a child process; reports the bootstrap storm, server memory, config propagation, idle CPU and a reconnect storm'
complete -c meshctl -n "__fish_meshctl_using_subcommand x; and __fish_seen_subcommand_from bench" -f -a "relay-fleet" -d 'Internal: the agent fleet of `x bench relay` (spec on stdin)'
