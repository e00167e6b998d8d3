
use builtin;
use str;

set edit:completion:arg-completer[meshctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'meshctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'meshctl'= {
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Diagnose an installation, or with --pre a cluster before install'
            cand version 'Print the version, git commit, build date and target of meshctl'
            cand completion 'Print the shell completion script for bash, zsh, fish, powershell or elvish'
            cand x 'Developer and experimental tools'
        }
        &'meshctl;check'= {
            cand --wait 'Retry checks that can still become healthy for up to this long (0s: run each check once)'
            cand --timeout 'Timeout of each call to an API server, the admin API or DNS'
            cand --mgmt-admin-address 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server''s service proxy'
            cand --remote-context 'Also check the agent on the workload cluster of this kubeconfig context (repeatable)'
            cand --junit 'Also write a JUnit XML report to PATH for CI systems (''-'': to stdout, instead of the report)'
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand --pre 'Check that the cluster can take an install (API, permissions, version, conflicts, LoadBalancer)'
            cand --fail-on-warnings 'Exit 1 when a check warns, not only when one fails'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'meshctl;version'= {
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'meshctl;completion'= {
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'meshctl;x'= {
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand generate-reference 'Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions'
        }
        &'meshctl;x;generate-reference'= {
            cand --out 'Repository root to write into'
            cand --kubeconfig 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]'
            cand --context 'Kubeconfig context to use [default: the current context]'
            cand -n 'Namespace meshctl is installed in'
            cand --namespace 'Namespace meshctl is installed in'
            cand -o 'Output format for commands that print data'
            cand --output 'Output format for commands that print data'
            cand --log-format 'Log format on stderr (json suits the long-running serve commands)'
            cand --request-timeout 'Timeout for each Kubernetes API request (e.g. 10s, 1m)'
            cand --check 'Only report stale files (exit 1 if any), write nothing'
            cand -v 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand --verbose 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides'
            cand -q 'Only errors on stderr; no progress, hints or warnings'
            cand --quiet 'Only errors on stderr; no progress, hints or warnings'
            cand --no-color 'Disable colour (also when NO_COLOR is set)'
            cand -y 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand --yes 'Never prompt: answer confirmations with yes, fail if a value is required'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
    ]
    $completions[$command]
}
