#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for meshctl's end-to-end tests (tests/e2e_*.rs).
#
#   scripts/e2e-cluster.sh build   build etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                                  kubectl and kwok from their Go modules (tools/e2e-cluster), once per
#                                  pinned version set, into a cache outside the checkout
#   scripts/e2e-cluster.sh up      build if needed, then start two clusters, `mgmt` and `remote`: one etcd
#                                  (a key prefix per cluster), and per cluster its own CA, kube-apiserver
#                                  (RBAC on), controller-manager, scheduler and kwok with one simulated
#                                  node, so Deployments get Pods that are scheduled and become Ready
#   scripts/e2e-cluster.sh env     print the exports the e2e tests read (eval "$(... env)")
#   scripts/e2e-cluster.sh status  say what runs
#   scripts/e2e-cluster.sh down    stop every process `up` started (by PID) and remove its state
#
# Every listener is on 127.0.0.1 with a free port. Environment: MESHCTL_E2E_CACHE (the build cache,
# default ~/.cache/meshctl-e2e), MESHCTL_E2E_STATE (the running clusters' files, default
# target/e2e-cluster in the checkout). Needs go, openssl, curl and python3 (for free ports).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/tools/e2e-cluster"
# Keep in step with tools/e2e-cluster/go.mod (k8s.io/kubernetes and its staging replaces).
K8S_VERSION=v1.36.3
K8S_MINOR=36
CLUSTERS=(mgmt remote)
CACHE_ROOT=${MESHCTL_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshctl-e2e}
STATE=${MESHCTL_E2E_STATE:-$ROOT/target/e2e-cluster}

LDFLAGS="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$K8S_MINOR"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
PACKAGES=(./etcd k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl sigs.k8s.io/kwok/cmd/kwok)

say() { echo "e2e-cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }

cache_key() {
  { cat "$TOOLS/go.mod" "$TOOLS/go.sum" "$TOOLS/etcd/main.go"; echo "$LDFLAGS"; go env GOVERSION; } \
    | sha256sum | cut -c1-16
}

bin_dir() { echo "$CACHE_ROOT/$K8S_VERSION-$(cache_key)/bin"; }

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH (the control plane is built from Kubernetes' Go modules)"
  local bin; bin=$(bin_dir)
  local missing=0 b
  for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || missing=1; done
  if [ "$missing" = 0 ]; then
    say "binaries cached in $bin"
    return
  fi
  say "building ${BINARIES[*]} ($K8S_VERSION) into $bin (cold caches: about 8-10 min on 2 cores)"
  local start=$SECONDS tmp="$bin.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$TOOLS" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$tmp/" "${PACKAGES[@]}")
  rm -rf "$bin" && mv "$tmp" "$bin"
  say "built in $((SECONDS - start)) s"
}

free_ports() { # N -> N free TCP ports on 127.0.0.1, one per line
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# start NAME LOG CMD... : runs CMD in its own session, remembers its PID in $STATE/pids/NAME.
start() {
  local name=$1 log=$2; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

wait_for() { # WHAT SECONDS LOG CMD... : retries CMD until it succeeds
  local what=$1 secs=$2 log=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "$what did not become ready within $secs s; the end of $log:"
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

pki() { # DIR CLUSTER: a CA, the API server's serving cert, an admin client cert, the service-account key
  local d=$1 c=$2
  mkdir -p "$d"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -subj "/CN=meshctl-e2e-$c-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  leaf() { # NAME SUBJECT EXTENSIONS
    openssl req "${ec[@]}" -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$3" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 365 \
      -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
  }
  leaf apiserver "/CN=kube-apiserver" \
    "$(printf '%s\n%s' "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
  leaf admin "/O=system:masters/CN=meshctl-e2e-admin" "extendedKeyUsage=clientAuth"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/sa.key" 2>/dev/null
  openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

b64() { base64 -w0 <"$1"; }

kubeconfig() { # OUT CLUSTER... : one context (named after the cluster) per cluster, the first current
  local out=$1; shift
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "current-context: $1"
    echo "clusters:"
    for c in "$@"; do
      echo "- name: $c"
      echo "  cluster:"
      echo "    server: https://127.0.0.1:$(cat "$STATE/$c/port")"
      echo "    certificate-authority-data: $(b64 "$STATE/$c/pki/ca.crt")"
    done
    echo "users:"
    for c in "$@"; do
      echo "- name: $c-admin"
      echo "  user:"
      echo "    client-certificate-data: $(b64 "$STATE/$c/pki/admin.crt")"
      echo "    client-key-data: $(b64 "$STATE/$c/pki/admin.key")"
    done
    echo "contexts:"
    for c in "$@"; do
      echo "- name: $c"
      echo "  context: {cluster: $c, user: $c-admin}"
    done
  } >"$out"
  chmod 600 "$out"
}

api_ready() { # CLUSTER
  local p="$STATE/$1/pki"
  curl -fsS --max-time 2 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:$(cat "$STATE/$1/port")/readyz" | grep -qx ok
}

kubectl_in() { # CLUSTER ARGS...
  local c=$1; shift
  "$(bin_dir)/kubectl" --kubeconfig "$STATE/$c/admin.kubeconfig" "$@"
}

node_ready() { # CLUSTER
  [ "$(kubectl_in "$1" get node kwok-node-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

sa_ready() { # CLUSTER: the controller manager has made the default namespace's ServiceAccount
  kubectl_in "$1" get serviceaccount default -n default
}

start_cluster() { # CLUSTER ETCD_URL
  local c=$1 etcd=$2 dir="$STATE/$1"
  mkdir -p "$dir"
  pki "$dir/pki" "$c"
  local ports; mapfile -t ports < <(free_ports 3)
  echo "${ports[0]}" >"$dir/port"
  kubeconfig "$dir/admin.kubeconfig" "$c"
  local bin; bin=$(bin_dir)
  start "$c-kube-apiserver" "$dir/kube-apiserver.log" "$bin/kube-apiserver" \
    --etcd-servers="$etcd" --etcd-prefix="/registry-$c" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="${ports[0]}" \
    --cert-dir="$dir/pki" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --service-account-issuer="https://kubernetes.default.svc.cluster.local/$c" \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --authorization-mode=RBAC \
    --endpoint-reconciler-type=none \
    --allow-privileged=true
  wait_for "$c kube-apiserver" 120 "$dir/kube-apiserver.log" api_ready "$c"
  start "$c-kube-controller-manager" "$dir/kube-controller-manager.log" "$bin/kube-controller-manager" \
    --kubeconfig="$dir/admin.kubeconfig" \
    --authentication-kubeconfig="$dir/admin.kubeconfig" --authorization-kubeconfig="$dir/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${ports[1]}" \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --use-service-account-credentials=true --cluster-name="$c" --leader-elect=false
  start "$c-kube-scheduler" "$dir/kube-scheduler.log" "$bin/kube-scheduler" \
    --kubeconfig="$dir/admin.kubeconfig" \
    --authentication-kubeconfig="$dir/admin.kubeconfig" --authorization-kubeconfig="$dir/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="${ports[2]}" --leader-elect=false
  start "$c-kwok" "$dir/kwok.log" "$bin/kwok" \
    --config="$TOOLS/kwok-stages.yaml" --kubeconfig="$dir/admin.kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=10.244.0.1 --cidr=10.244.0.0/16 --node-lease-duration-seconds=40
  kubectl_in "$c" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake}
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: kwok
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "250"}
  capacity: {cpu: "64", memory: 256Gi, pods: "250"}
EOF
  wait_for "$c kwok node" 60 "$dir/kwok.log" node_ready "$c"
  wait_for "$c service-account controller" 60 "$dir/kube-controller-manager.log" sa_ready "$c"
}

alive() { # PID: runs, and is not a zombie left unreaped by a parent that has gone (its state is Z)
  kill -0 "$1" 2>/dev/null && [ "$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

running() { # -> names of processes that still run
  local f
  [ -d "$STATE/pids" ] || return 0
  for f in "$STATE"/pids/*; do
    [ -e "$f" ] || continue
    if alive "$(cat "$f")"; then basename "$f"; fi
  done
}

stop_group() { # SECONDS NAME... : SIGTERM to each, wait up to SECONDS for all, then SIGKILL what is left
  local secs=$1; shift
  local name pid
  for name in "$@"; do
    pid=$(cat "$STATE/pids/$name")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + secs)) left
  while :; do
    left=0
    for name in "$@"; do alive "$(cat "$STATE/pids/$name")" && left=1; done
    [ "$left" = 0 ] || [ $SECONDS -ge $deadline ] && break
    sleep 0.2
  done
  for name in "$@"; do
    pid=$(cat "$STATE/pids/$name")
    if alive "$pid"; then
      say "$name (pid $pid) did not stop within $secs s of SIGTERM; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

cmd_down() {
  [ -d "$STATE/pids" ] || { rm -rf "$STATE"; return 0; }
  local f name
  local -a simulators=() apiservers=() store=()
  for f in "$STATE"/pids/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case "$name" in
      etcd) store+=("$name") ;;
      *-kube-apiserver) apiservers+=("$name") ;;
      *) simulators+=("$name") ;;
    esac
  done
  # In order: node simulators and controllers, then the API servers (while etcd still answers,
  # so they shut down cleanly), then etcd.
  [ ${#simulators[@]} = 0 ] || stop_group 15 "${simulators[@]}"
  [ ${#apiservers[@]} = 0 ] || stop_group 30 "${apiservers[@]}"
  [ ${#store[@]} = 0 ] || stop_group 15 "${store[@]}"
  rm -rf "$STATE"
  say "down: every process stopped, $STATE removed"
}

cmd_up() {
  if [ -n "$(running)" ]; then
    die "already up ($(running | tr '\n' ' ')); run '$0 down' first"
  fi
  rm -rf "$STATE"
  local t0=$SECONDS
  cmd_build
  local t1=$SECONDS
  mkdir -p "$STATE/pids"
  # Whatever fails from here on (set -e ends the script anywhere, also inside functions), nothing
  # that up started may stay behind.
  trap 'say "up failed; stopping what it started"; cmd_down' EXIT
  local bin ports; bin=$(bin_dir)
  mapfile -t ports < <(free_ports 2)
  local etcd="http://127.0.0.1:${ports[0]}"
  start etcd "$STATE/etcd.log" "$bin/etcd" --name=e2e --data-dir="$STATE/etcd" \
    --listen-client-urls="$etcd" --advertise-client-urls="$etcd" \
    --listen-peer-urls="http://127.0.0.1:${ports[1]}" --initial-advertise-peer-urls="http://127.0.0.1:${ports[1]}" \
    --initial-cluster="e2e=http://127.0.0.1:${ports[1]}" \
    --unsafe-no-fsync --log-level=warn
  wait_for etcd 60 "$STATE/etcd.log" curl -fsS --max-time 2 "$etcd/health"
  local c
  for c in "${CLUSTERS[@]}"; do start_cluster "$c" "$etcd"; done
  kubeconfig "$STATE/kubeconfig" "${CLUSTERS[@]}"
  trap - EXIT
  say "up: build/cache $((t1 - t0)) s, start $((SECONDS - t1)) s; kubeconfig $STATE/kubeconfig (contexts: ${CLUSTERS[*]})"
  say "run the e2e tests with: eval \"\$($0 env)\" && cargo test --locked"
}

cmd_env() {
  [ -f "$STATE/kubeconfig" ] || die "not up (no $STATE/kubeconfig); run '$0 up'"
  echo "export MESHCTL_E2E_KUBECONFIG='$STATE/kubeconfig'"
  echo "export MESHCTL_E2E_MGMT_CONTEXT=mgmt"
  echo "export MESHCTL_E2E_REMOTE_CONTEXT=remote"
  echo "export MESHCTL_E2E_KUBECTL='$(bin_dir)/kubectl'"
}

cmd_status() {
  local r; r=$(running)
  if [ -z "$r" ]; then echo "down"; else echo "up: $(echo "$r" | tr '\n' ' ')"; fi
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  logs) tail -n "${2:-40}" "$STATE"/*.log "$STATE"/*/*.log ;;
  *) echo "usage: $0 build|up|down|env|status|logs [LINES]" >&2; exit 2 ;;
esac
