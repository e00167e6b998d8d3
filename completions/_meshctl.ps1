
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'meshctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'meshctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'meshctl' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Diagnose an installation, or with --pre a cluster before install')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version, git commit, build date and target of meshctl')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print the shell completion script for bash, zsh, fish, powershell or elvish')
            [CompletionResult]::new('x', 'x', [CompletionResultType]::ParameterValue, 'Developer and experimental tools')
            break
        }
        'meshctl;check' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Retry checks that can still become healthy for up to this long (0s: run each check once)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timeout of each call to an API server, the admin API or DNS')
            [CompletionResult]::new('--mgmt-admin-address', '--mgmt-admin-address', [CompletionResultType]::ParameterName, 'Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of through the Kubernetes API server''s service proxy')
            [CompletionResult]::new('--remote-context', '--remote-context', [CompletionResultType]::ParameterName, 'Also check the agent on the workload cluster of this kubeconfig context (repeatable)')
            [CompletionResult]::new('--junit', '--junit', [CompletionResultType]::ParameterName, 'Also write a JUnit XML report to PATH for CI systems (''-'': to stdout, instead of the report)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('--pre', '--pre', [CompletionResultType]::ParameterName, 'Check that the cluster can take an install (API, permissions, version, conflicts, LoadBalancer)')
            [CompletionResult]::new('--fail-on-warnings', '--fail-on-warnings', [CompletionResultType]::ParameterName, 'Exit 1 when a check warns, not only when one fails')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'meshctl;version' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'meshctl;completion' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'meshctl;x' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('generate-reference', 'generate-reference', [CompletionResultType]::ParameterValue, 'Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions')
            break
        }
        'meshctl;x;generate-reference' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Repository root to write into')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Kubeconfig context to use [default: the current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace meshctl is installed in')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format for commands that print data')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format on stderr (json suits the long-running serve commands)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'Timeout for each Kubernetes API request (e.g. 10s, 1m)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Only report stale files (exit 1 if any), write nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors on stderr; no progress, hints or warnings')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Never prompt: answer confirmations with yes, fail if a value is required')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
