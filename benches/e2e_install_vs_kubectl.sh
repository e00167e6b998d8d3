#!/usr/bin/env bash
# `meshctl install` of the default (mgmt) profile against `kubectl apply --server-side` of the same
# rendered manifests, on a real API server (scripts/e2e-cluster.sh), timed as whole processes, in
# pairs (meshctl, kubectl, meshctl, kubectl ...): first install into a fresh namespace, and re-apply
# (nothing changed) into an existing one. See docs/benchmarks.md, "Against a real control plane".
#
#   eval "$(scripts/e2e-cluster.sh env)"
#   benches/e2e_install_vs_kubectl.sh run [RUNS]    set up, one warm-up pair and RUNS pairs (default 10)
#                                                   of each case, a Markdown table, clean up
#
# The steps, for timing them with another tool (each step below `setup` is the one whole command
# timed; every fresh step takes the next fresh namespace, so give `setup` enough of them):
#   benches/e2e_install_vs_kubectl.sh setup DIR [FRESH]   issuer, license, FRESH (default 12)
#                                                         rendered files, the re-apply namespace
#   benches/e2e_install_vs_kubectl.sh meshctl-fresh DIR   meshctl install --wait=false, next namespace
#   benches/e2e_install_vs_kubectl.sh kubectl-fresh DIR   kubectl apply --server-side, next namespace
#   benches/e2e_install_vs_kubectl.sh meshctl-reapply DIR
#   benches/e2e_install_vs_kubectl.sh kubectl-reapply DIR
#   benches/e2e_install_vs_kubectl.sh kubectl-reapply-novalidate DIR   (--validate=false: no OpenAPI)
#   benches/e2e_install_vs_kubectl.sh cleanup DIR         deletes every namespace (and its
#                                                         ClusterRole/Binding) setup and the steps made
#
# What is the same on both sides: the objects (`meshctl install --dry-run` output for the namespace,
# plus the license Secret install writes, which --dry-run does not print: same name, labels, data),
# server-side apply with field manager `meshctl` and strict field validation, no waiting for the
# Deployment (install --wait=false; kubectl never waits). What differs (see the docs): meshctl
# verifies the license offline first, GETs each object before applying it (to report
# created/configured/unchanged), applies in dependency waves with several requests at once, and
# waits until the CRDs are Established (38 requests in all on a re-apply); kubectl reads discovery
# from its disk cache (DIR/kube-cache, filled by setup), downloads the OpenAPI v3 documents of the
# four group-versions for its strict validation, then applies one object after another in file
# order (21 requests). `kubectl-reapply-novalidate` shows kubectl without the OpenAPI download
# (--validate=false: the API server then ignores unknown fields instead of rejecting them).
#
# CRDs are cluster-scoped and shared with whatever else uses the API server: both sides apply the
# six CRDs in every step, as install does, but neither creates them (they exist before anything is
# timed; the warm-up pair applies them if not). Every install labels them with its namespace
# (meshctl.dev/namespace), so each fresh-namespace step rewrites that label on all six, on both
# sides alike; the re-apply steps share one namespace and change nothing. `setup` refuses to go on
# when the rendered CRDs differ from the installed ones in anything but that label (another meshctl
# version installed them: applying would change them under its users) unless
# BENCH_ALLOW_CRD_CHANGE=1. Cleanup never deletes CRDs.
#
# Environment: MESHCTL_E2E_KUBECONFIG (required), MESHCTL_E2E_MGMT_CONTEXT (default mgmt),
# MESHCTL_E2E_KUBECTL (default: kubectl on PATH), MESHCTL_BIN (default target/release/meshctl).
set -euo pipefail

# The timed steps come first and do as little as possible before exec.
# Environment variables meshctl reads that would change what it does (tests/support/mesh.rs).
unset KUBECONFIG RUST_LOG MESHCTL_NAMESPACE MESHCTL_LICENSE_KEY MESHCTL_TRUSTED_ISSUERS
step_env() {
  # shellcheck source=/dev/null
  . "$1/env"
}
next_index() { # DIR SIDE -> prints the next free index of SIDE and reserves it
  local file="$1/next-$2" i
  i=$(<"$file")
  if [ "$i" -ge "$FRESH" ]; then
    echo "e2e_install_vs_kubectl: all $FRESH fresh namespaces of $2 used; run setup with more" >&2
    exit 2
  fi
  echo $((i + 1)) >"$file"
  echo "$i"
}
case "${1:-}" in
  meshctl-fresh)
    step_env "$2"; i=$(next_index "$2" m)
    exec "$BIN" --kubeconfig "$KCFG" --context "$CTX" -n "$PREFIX-m$i" install --wait=false \
      --key-file "$2/bench.license" --trusted-issuer "$2/issuer/issuer.pub.pem"
    ;;
  kubectl-fresh)
    step_env "$2"; i=$(next_index "$2" k)
    exec "$KUBECTL" --kubeconfig "$KCFG" --context "$CTX" --cache-dir "$2/kube-cache" \
      apply --server-side --field-manager=meshctl -f "$2/k$i.yaml"
    ;;
  meshctl-reapply)
    step_env "$2"
    exec "$BIN" --kubeconfig "$KCFG" --context "$CTX" -n "$PREFIX-re" install --wait=false \
      --key-file "$2/bench.license" --trusted-issuer "$2/issuer/issuer.pub.pem"
    ;;
  kubectl-reapply)
    step_env "$2"
    exec "$KUBECTL" --kubeconfig "$KCFG" --context "$CTX" --cache-dir "$2/kube-cache" \
      apply --server-side --field-manager=meshctl -f "$2/re.yaml"
    ;;
  kubectl-reapply-novalidate) # for reference: no OpenAPI download, but no strict validation either
    step_env "$2"
    exec "$KUBECTL" --kubeconfig "$KCFG" --context "$CTX" --cache-dir "$2/kube-cache" \
      apply --server-side --field-manager=meshctl --validate=false -f "$2/re.yaml"
    ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/benches/$(basename "${BASH_SOURCE[0]}")"
say() { echo "e2e_install_vs_kubectl: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The license Secret `meshctl install` applies (src/cli/license/secret.rs `desired_secret`).
license_secret() { # NAMESPACE KEYFILE VERSION_LABEL
  cat <<EOF
---
apiVersion: v1
kind: Secret
metadata:
  name: meshctl-license
  namespace: $1
  labels:
    app.kubernetes.io/component: license
    app.kubernetes.io/managed-by: meshctl
    app.kubernetes.io/part-of: meshctl
    meshctl.dev/version: "$3"
type: Opaque
data:
  license-key: $(tr -d '[:space:]' <"$2" | base64 -w0)
EOF
}

render() { # NAMESPACE OUT
  "$BIN" -n "$1" install --dry-run >"$2"
  local version
  version=$(grep -m1 'meshctl.dev/version:' "$2" | sed 's/.*: *//; s/"//g')
  license_secret "$1" "$DIR/bench.license" "$version" >>"$2"
}

cmd_setup() {
  DIR=$1
  FRESH=${2:-12}
  KCFG=${MESHCTL_E2E_KUBECONFIG:?set it: eval \"\$(scripts/e2e-cluster.sh env)\"}
  CTX=${MESHCTL_E2E_MGMT_CONTEXT:-mgmt}
  KUBECTL=${MESHCTL_E2E_KUBECTL:-kubectl}
  BIN=${MESHCTL_BIN:-$ROOT/target/release/meshctl}
  [ -x "$BIN" ] || die "$BIN missing: cargo build --release --locked"
  PREFIX="bench-inst-$(printf '%05d' $((RANDOM % 100000)))"
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  cat >"$DIR/env" <<EOF
BIN='$BIN'
KCFG='$KCFG'
CTX='$CTX'
KUBECTL='$KUBECTL'
PREFIX='$PREFIX'
FRESH=$FRESH
EOF
  echo 0 >"$DIR/next-m"
  echo 0 >"$DIR/next-k"
  local k=("$KUBECTL" --kubeconfig "$KCFG" --context "$CTX")

  "$BIN" license keygen --out "$DIR/issuer" --force >/dev/null
  "$BIN" license issue --signing-key "$DIR/issuer/issuer.key.pem" --licensee bench \
    --products mesh --trial --days 365 >"$DIR/bench.license" 2>/dev/null

  local i
  for ((i = 0; i < FRESH; i++)); do render "$PREFIX-k$i" "$DIR/k$i.yaml"; done
  render "$PREFIX-re" "$DIR/re.yaml"

  # The CRDs: installed and current before anything is timed.
  python3 - "$DIR/re.yaml" "$DIR/crds.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
crds = [d for d in docs if "\nkind: CustomResourceDefinition\n" in "\n" + d + "\n"]
open(sys.argv[2], "w").write("\n---\n".join(crds) + "\n")
EOF
  # Every install labels the CRDs with its namespace (meshctl.dev/namespace): that label differs
  # whenever another namespace was installed last, and is rewritten by every fresh-namespace step
  # (on both sides). Anything else differing means another meshctl version installed them.
  local diff_rc=0
  "${k[@]}" diff --server-side --field-manager=meshctl -f "$DIR/crds.yaml" >"$DIR/crds.diff" 2>&1 || diff_rc=$?
  [ "$diff_rc" -le 1 ] || { cat "$DIR/crds.diff" >&2; die "kubectl diff failed"; }
  if grep -E '^[-+]' "$DIR/crds.diff" | grep -vE '^(---|\+\+\+) ' | grep -v 'meshctl.dev/namespace:' \
    | grep -q . && [ "${BENCH_ALLOW_CRD_CHANGE:-0}" != 1 ]; then
    die "the installed CRDs differ from this meshctl's ($DIR/crds.diff); BENCH_ALLOW_CRD_CHANGE=1 goes on, and the warm-up pair applies them"
  fi

  # The re-apply namespace: installed once by meshctl; both sides then re-apply into it (one
  # namespace, so that neither side relabels the CRDs for the other). kubectl's file must be a
  # no-op on it: the proof that both sides apply the same objects.
  "$BIN" --kubeconfig "$KCFG" --context "$CTX" -n "$PREFIX-re" install --wait=false \
    --key-file "$DIR/bench.license" --trusted-issuer "$DIR/issuer/issuer.pub.pem" \
    >"$DIR/setup-install.out" 2>&1 || { cat "$DIR/setup-install.out" >&2; die "install failed"; }
  diff_rc=0
  "${k[@]}" --cache-dir "$DIR/kube-cache" diff --server-side --field-manager=meshctl \
    -f "$DIR/re.yaml" >"$DIR/re.diff" 2>&1 || diff_rc=$?
  case $diff_rc in
    0) say "kubectl's manifests are a no-op on meshctl's install: same objects" ;;
    1) say "warning: kubectl's manifests differ from meshctl's install (or the CRDs were relabelled since): $DIR/re.diff" ;;
    *) cat "$DIR/re.diff" >&2; die "kubectl diff failed" ;;
  esac
  say "set up in $DIR (namespaces $PREFIX-*)"
}

cmd_cleanup() {
  DIR=$1
  step_env "$DIR"
  local k=("$KUBECTL" --kubeconfig "$KCFG" --context "$CTX")
  local namespaces
  namespaces=$("${k[@]}" get namespaces -o name | sed -n "s|^namespace/\($PREFIX-.*\)|\1|p")
  [ -n "$namespaces" ] || { say "nothing to delete"; return; }
  local ns
  for ns in $namespaces; do
    "${k[@]}" delete clusterrolebinding,clusterrole "meshctl:$ns:mgmt-server" \
      --ignore-not-found >/dev/null
  done
  # shellcheck disable=SC2086
  "${k[@]}" delete namespace $namespaces --timeout=180s >/dev/null
  say "deleted $(echo "$namespaces" | wc -w) namespaces ($PREFIX-*) and their ClusterRoles/Bindings"
}

# One timed run of a step: prints its wall seconds (bash's EPOCHREALTIME around the child).
time_step() { # STEP DIR
  local start end rc=0
  start=$EPOCHREALTIME
  "$SELF" "$1" "$2" >>"$2/$1.out" 2>&1 || rc=$?
  end=$EPOCHREALTIME
  [ "$rc" = 0 ] || die "$1 failed (exit $rc): $2/$1.out"
  echo "$start $end" | awk '{printf "%.6f\n", $2 - $1}'
}

cmd_run() {
  local runs=${1:-10}
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/meshctl-bench-install.XXXXXX")
  trap 'cmd_cleanup "$DIR" || true' EXIT
  cmd_setup "$DIR" $((runs + 1))
  say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local case a b i
  for case in fresh reapply reapply-novalidate; do
    : >"$DIR/times-$case"
    for ((i = 0; i <= runs; i++)); do # run 0 is the warm-up pair
      a=$(time_step "meshctl-${case%-novalidate}" "$DIR")
      b=$(time_step "kubectl-$case" "$DIR")
      [ "$i" = 0 ] || echo "$a $b" >>"$DIR/times-$case"
    done
  done
  say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$DIR" "$runs" <<'EOF'
import statistics, sys
d, runs = sys.argv[1], sys.argv[2]
print("| case | pairs | meshctl min / median / max | kubectl min / median / max | meshctl/kubectl, median of pairs (min-max) |")
print("|---|---:|---|---|---|")
for case, label in (("fresh", "first install, fresh namespace"), ("reapply", "re-apply, no change"),
                    ("reapply-novalidate", "re-apply; kubectl --validate=false")):
    pairs = [tuple(map(float, l.split())) for l in open(f"{d}/times-{case}") if l.strip()]
    fmt = lambda xs: " / ".join(f"{x * 1000:.0f} ms" for x in (min(xs), statistics.median(xs), max(xs)))
    ratios = [a / b for a, b in pairs]
    print(f"| {label} | {len(pairs)} | {fmt([a for a, _ in pairs])} | {fmt([b for _, b in pairs])} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
EOF
  trap - EXIT
  cmd_cleanup "$DIR"
  rm -rf "$DIR" # kept when a step failed, for its output
}

case "${1:-}" in
  setup) [ $# -ge 2 ] || die "usage: $0 setup DIR [FRESH]"; cmd_setup "$2" "${3:-12}" ;;
  cleanup) [ $# -eq 2 ] || die "usage: $0 cleanup DIR"; cmd_cleanup "$2" ;;
  run) cmd_run "${2:-10}" ;;
  *) sed -n '2,20p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
