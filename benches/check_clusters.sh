#!/usr/bin/env bash
# `meshctl check` wall time with N registered and connected clusters, on a real API server
# (scripts/e2e-cluster.sh). See docs/benchmarks.md, "Against a real control plane".
#
#   eval "$(scripts/e2e-cluster.sh env)"
#   benches/check_clusters.sh run [SIZES] [RUNS]   for each N in SIZES (default 1,10,50): up, one
#                                                  warm-up and RUNS (default 10) timed checks, a
#                                                  Markdown table, down
#
# The steps, for timing the check with another tool:
#   benches/check_clusters.sh up DIR N     install, server, N registrations, N agents; waits until
#                                          all N are connected with a snapshot, the server wrote
#                                          their KubernetesCluster statuses (up to 30 s) and the
#                                          Workspace and N VirtualDestinations are ACCEPTED
#   benches/check_clusters.sh check DIR    the timed command: meshctl check --mgmt-admin-address
#                                          ADDR -n NS --wait 0s -o json (the report on stdout)
#   benches/check_clusters.sh down DIR     stops the agents and the server, deletes the namespace
#
# What is real: the API server and its controllers; `meshctl install --wait` of the mgmt profile
# (CRDs, license Secret, the server's Deployment, rolled out by the Deployment controller, its pod
# made Ready by kwok); the management server, `meshctl serve mgmt-server --kubernetes`, run here as
# a process with the kubeconfig (kwok runs no container) as tests/support/mesh.rs runs it: relay
# PKI and bootstrap tokens in Secrets, relay state written to each KubernetesCluster's status; N
# agents, each the real agent code (its own key, bootstrap with its own single-use token, client
# certificate, mTLS stream, a snapshot of 10 synthetic resources), all in one process (the fleet of
# `meshctl x bench relay`: `meshctl x bench relay-fleet`, driven over its stdin/stdout); and the
# timed `meshctl check` process.
#
# What is not: `meshctl cluster register`. Per cluster it writes, on the management cluster, a
# KubernetesCluster and the token Secret `relay-identity-token-NAME`, and on the workload cluster
# the agent's namespace, Secrets and Deployment; it refuses to register a workload cluster that
# already holds another cluster's token, so one API server can stand for one workload cluster,
# not 50. `up` writes the management side as register does (same names, labels and data key; the
# cluster-id annotation names no real cluster) with one `kubectl apply`, and nothing on a workload
# cluster: the agents get their tokens in the fleet's spec instead of from a Secret, and keep their
# snapshot and configuration in memory.
#
# Platform resources, so that the config check has something to read: one Workspace (every
# cluster, namespaces ns-*) and one VirtualDestination per cluster, backed by a Service of that
# cluster's snapshot; the server accepts them (ACCEPTED) but translates nothing, since the
# synthetic snapshots hold no Istio CRDs.
#
# Environment: MESHCTL_E2E_KUBECONFIG (required), MESHCTL_E2E_MGMT_CONTEXT (default mgmt),
# MESHCTL_E2E_KUBECTL (default: kubectl on PATH), MESHCTL_BIN (default target/release/meshctl).
set -euo pipefail

# Environment variables meshctl reads that would change what it does (tests/support/mesh.rs).
unset KUBECONFIG RUST_LOG MESHCTL_NAMESPACE MESHCTL_LICENSE_KEY MESHCTL_TRUSTED_ISSUERS \
  MESHCTL_STATE_DIR MESHCTL_CLUSTER MESHCTL_RELAY_TOKEN MESHCTL_AGENT_STATE_DIR MESHCTL_REDIS_URL

if [ "${1:-}" = check ]; then
  # shellcheck source=/dev/null
  . "$2/env"
  exec "$BIN" --kubeconfig "$KCFG" --context "$CTX" -n "$NS" check --mgmt-admin-address "$ADMIN" \
    --trusted-issuer "$2/issuer/issuer.pub.pem" --wait 0s -o json
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/benches/$(basename "${BASH_SOURCE[0]}")"
WAIT_SECONDS=180
say() { echo "check_clusters: $*" >&2; }
die() { say "error: $*"; exit 1; }


# Drives `meshctl x bench relay-fleet` (src/bench/fleet.rs): the spec on one line, `prepared`,
# `go`, `started`, then `stats` once a second into DIR/fleet-stats.json; SIGTERM closes its stdin
# (the agents close their streams and the process exits).
FLEET_PY='
import json, os, signal, subprocess, sys, time
bin_, spec_file, stats_file = sys.argv[1:4]
p = subprocess.Popen([bin_, "x", "bench", "relay-fleet"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True, env=dict(os.environ, RUST_LOG="error"))
def ask(line, want=None):
    p.stdin.write(line + "\n"); p.stdin.flush()
    got = p.stdout.readline().strip()
    if want is not None and got != want:
        sys.exit(f"fleet answered {got!r} to {line[:20]!r}, expected {want!r}")
    return got
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
ask(open(spec_file).read().strip(), "prepared")
ask("go", "started")
while not stop and p.poll() is None:
    stats = ask("stats")
    with open(stats_file + ".tmp", "w") as f: f.write(stats + "\n")
    os.replace(stats_file + ".tmp", stats_file)
    time.sleep(1)
p.stdin.close()
try: p.wait(15)
except subprocess.TimeoutExpired: p.kill()
'

# How many clusters the server's relay view shows connected with a snapshot.
connected() { # ADMIN
  curl -fsS --max-time 5 "http://$1/api/v1/clusters" 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin)["clusters"] if c["connected"] and c["snapshot_resources"] > 0))
' 2>/dev/null || echo 0
}

# How many Workspaces and VirtualDestinations in NAMESPACE are ACCEPTED for their generation.
accepted() { # NAMESPACE
  "$KUBECTL" --kubeconfig "$KCFG" --context "$CTX" -n "$1" get workspaces,virtualdestinations \
    -o json 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["items"]
          if o.get("status", {}).get("state") == "ACCEPTED"
          and o["status"].get("observedGeneration") == o["metadata"]["generation"]))
' 2>/dev/null || echo 0
}

# How many KubernetesClusters in NAMESPACE have a status saying connected.
statuses() { # NAMESPACE
  "$KUBECTL" --kubeconfig "$KCFG" --context "$CTX" -n "$1" get kubernetesclusters -o json \
    2>/dev/null | python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["items"] if o.get("status", {}).get("connected")))
' 2>/dev/null || echo 0
}

cmd_up() {
  local dir=$1 n=$2
  KCFG=${MESHCTL_E2E_KUBECONFIG:?set it: eval \"\$(scripts/e2e-cluster.sh env)\"}
  CTX=${MESHCTL_E2E_MGMT_CONTEXT:-mgmt}
  KUBECTL=${MESHCTL_E2E_KUBECTL:-kubectl}
  BIN=${MESHCTL_BIN:-$ROOT/target/release/meshctl}
  [ -x "$BIN" ] || die "$BIN missing: cargo build --release --locked"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  NS="bench-check-$(printf '%05d' $((RANDOM % 100000)))"
  local k=("$KUBECTL" --kubeconfig "$KCFG" --context "$CTX")
  local m=("$BIN" --kubeconfig "$KCFG" --context "$CTX" -n "$NS")
  cat >"$dir/env" <<EOF
BIN='$BIN'
KCFG='$KCFG'
CTX='$CTX'
KUBECTL='$KUBECTL'
NS='$NS'
N=$n
EOF

  "$BIN" license keygen --out "$dir/issuer" --force >/dev/null
  "$BIN" license issue --signing-key "$dir/issuer/issuer.key.pem" --licensee bench \
    --products mesh --trial --days 365 >"$dir/bench.license" 2>/dev/null
  # Waits until the server's Deployment is available (kwok makes its pod Ready).
  "${m[@]}" install --wait --timeout 180s --key-file "$dir/bench.license" \
    --trusted-issuer "$dir/issuer/issuer.pub.pem" >"$dir/install.out" 2>&1 \
    || { cat "$dir/install.out" >&2; die "install into $NS failed"; }

  # The server, as the Deployment runs it (templates/mgmt-server/deployment.yaml.tera), on loopback.
  "${m[@]}" serve mgmt-server --kubernetes --relay-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --license-secret meshctl-license --license-secret-key license-key \
    --trusted-issuer "$dir/issuer/issuer.pub.pem" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/server.pid"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until grep -q 'management server ready' "$dir/server.log" 2>/dev/null; do
    kill -0 "$(<"$dir/server.pid")" 2>/dev/null || { cat "$dir/server.log" >&2; die "the server exited"; }
    [ $SECONDS -lt $deadline ] || die "the server is not ready: $dir/server.log"
    sleep 0.2
  done
  local relay admin
  relay=$(sed -n 's/.*relay listening on \([0-9.:]*\).*/\1/p' "$dir/server.log" | head -1)
  admin=$(sed -n 's/.*admin listening on \([0-9.:]*\).*/\1/p' "$dir/server.log" | head -1)
  echo "ADMIN='$admin'" >>"$dir/env"

  # The management side of `meshctl cluster register NAME` for N clusters (src/cluster/token.rs,
  # src/cluster/record.rs, labels of src/cluster/mod.rs `registration_labels`).
  local version i name token labels
  version=$("$BIN" version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["client"]["version"])')
  cat >"$dir/registrations.yaml" <<EOF
apiVersion: admin.meshctl.dev/v1alpha1
kind: Workspace
metadata:
  name: bench
  namespace: $NS
spec:
  workloadClusters: [{name: "*", namespaces: ["ns-*"]}]
EOF
  printf '{"relay_address": "%s", "ca_pem": %s, "resources": 10, "resource_bytes": 256, "state_dir": "%s", "agents": [' \
    "$relay" \
    "$("${k[@]}" -n "$NS" get secret relay-root-tls-secret -o jsonpath='{.data.ca\.crt}' | base64 -d | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
    "$dir/fleet" >"$dir/fleet-spec.json"
  for ((i = 1; i <= n; i++)); do
    name=$(printf 'bench-%03d' "$i")
    token=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    labels="app.kubernetes.io/managed-by: meshctl, app.kubernetes.io/part-of: meshctl,"
    labels+=" app.kubernetes.io/component: cluster-registration,"
    labels+=" meshctl.dev/version: \"$version\", meshctl.dev/cluster: $name"
    cat >>"$dir/registrations.yaml" <<EOF
---
apiVersion: v1
kind: Secret
metadata:
  name: relay-identity-token-$name
  namespace: $NS
  labels: {$labels}
type: Opaque
data:
  token: $(printf '%s' "$token" | base64 -w0)
---
apiVersion: admin.meshctl.dev/v1alpha1
kind: KubernetesCluster
metadata:
  name: $name
  namespace: $NS
  labels: {$labels}
  annotations:
    meshctl.dev/cluster-id: bench:$name
    meshctl.dev/agent-namespace: mesh-system
spec: {}
---
apiVersion: networking.meshctl.dev/v1alpha1
kind: VirtualDestination
metadata:
  name: vd-$name
  namespace: $NS
spec:
  hosts: [svc-000000.$name.bench.global]
  ports: [{number: 8080, protocol: HTTP}]
  services: [{cluster: $name, namespace: ns-0, name: svc-000000}]
EOF
    [ "$i" = 1 ] || printf ', ' >>"$dir/fleet-spec.json"
    printf '{"cluster": "%s", "token": "%s"}' "$name" "$token" >>"$dir/fleet-spec.json"
  done
  printf ']}\n' >>"$dir/fleet-spec.json"
  chmod 600 "$dir/fleet-spec.json" "$dir/registrations.yaml"
  "${k[@]}" apply --server-side --field-manager=meshctl -f "$dir/registrations.yaml" >/dev/null

  python3 -c "$FLEET_PY" "$BIN" "$dir/fleet-spec.json" "$dir/fleet-stats.json" \
    >"$dir/fleet.log" 2>&1 &
  echo $! >"$dir/fleet.pid"
  local started=$SECONDS
  until [ "$(connected "$admin")" = "$n" ]; do
    kill -0 "$(<"$dir/fleet.pid")" 2>/dev/null || { cat "$dir/fleet.log" >&2; die "the fleet exited"; }
    [ $SECONDS -lt $deadline ] || die "only $(connected "$admin") of $n clusters connected: $dir/server.log"
    sleep 0.5
  done
  until [ "$(accepted "$NS")" = $((n + 1)) ]; do
    [ $SECONDS -lt $deadline ] || die "only $(accepted "$NS") of $((n + 1)) platform resources ACCEPTED"
    sleep 0.5
  done
  # Steady state: the server has written every cluster's relay state into its KubernetesCluster
  # (it re-lists them every 30 s, so this takes up to 30 s after registering).
  until [ "$(statuses "$NS")" = "$n" ]; do
    [ $SECONDS -lt $deadline ] || die "only $(statuses "$NS") of $n KubernetesCluster statuses say connected"
    sleep 1
  done
  say "$NS: $n clusters registered and connected, their KubernetesCluster statuses written, $n VirtualDestinations ACCEPTED ($((SECONDS - started)) s), admin API $admin"
}

cmd_down() {
  local dir=$1 pid
  # shellcheck source=/dev/null
  . "$dir/env"
  for pid in fleet server; do
    [ -f "$dir/$pid.pid" ] || continue
    pid=$(<"$dir/$pid.pid")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  local k=("$KUBECTL" --kubeconfig "$KCFG" --context "$CTX")
  "${k[@]}" delete clusterrolebinding,clusterrole "meshctl:$NS:mgmt-server" --ignore-not-found >/dev/null
  "${k[@]}" delete namespace "$NS" --ignore-not-found --timeout=180s >/dev/null
  say "stopped the agents and the server, deleted namespace $NS"
}

cmd_run() {
  local sizes=${1:-1,10,50} runs=${2:-10} n dir i start end rc
  echo "| registered clusters | runs | min | median | max | exit codes | relay check says |"
  echo "|---:|---:|---:|---:|---:|---|---|"
  for n in ${sizes//,/ }; do
    dir=$(mktemp -d "${TMPDIR:-/tmp}/meshctl-bench-check.XXXXXX")
    trap 'cmd_down "$dir" || true' EXIT
    cmd_up "$dir" "$n"
    say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    : >"$dir/times"
    : >"$dir/codes"
    for ((i = 0; i <= runs; i++)); do # run 0 is the warm-up
      rc=0
      start=$EPOCHREALTIME
      "$SELF" check "$dir" >"$dir/check-$i.json" 2>>"$dir/check.err" || rc=$?
      end=$EPOCHREALTIME
      [ "$i" = 0 ] && continue
      echo "$start $end" | awk '{printf "%.6f\n", $2 - $1}' >>"$dir/times"
      echo "$rc" >>"$dir/codes"
    done
    say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 - "$dir" "$n" "$runs" <<'EOF'
import json, statistics, sys
d, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = [float(l) for l in open(f"{d}/times")]
codes = sorted(set(l.strip() for l in open(f"{d}/codes")))
said = set()
for i in range(1, runs + 1):
    report = json.load(open(f"{d}/check-{i}.json"))
    for cat in report["categories"]:
        for c in cat["checks"]:
            if c["id"] == "relay-clusters-connected":
                said.add(f'{c["result"]}: {c.get("message", "")}')
ms = lambda x: f"{x * 1000:.0f} ms"
print(f"| {n} | {len(times)} | {ms(min(times))} | {ms(statistics.median(times))} | {ms(max(times))} | "
      f"{', '.join(codes)} | {'; '.join(sorted(said))} |")
EOF
    trap - EXIT
    cmd_down "$dir"
    rm -rf "$dir" # kept when something failed, for the logs
  done
}

case "${1:-}" in
  up) [ $# -eq 3 ] || die "usage: $0 up DIR N"; cmd_up "$2" "$3" ;;
  down) [ $# -eq 2 ] || die "usage: $0 down DIR"; cmd_down "$2" ;;
  run) cmd_run "${2:-1,10,50}" "${3:-10}" ;;
  *) sed -n '2,16p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
