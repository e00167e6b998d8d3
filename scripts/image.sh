#!/usr/bin/env bash
# The container image of meshctl, built without a container daemon (DESIGN.md §11).
#
#   scripts/image.sh build [--binary PATH]   cargo build --release --locked (unless --binary names a
#                                            built meshctl), then the image: an OCI image layout in
#                                            target/image/oci and the same as one OCI archive,
#                                            target/image/meshctl-<version>.oci.tar; prints its digest
#   scripts/image.sh rootfs DIR BINARY       only the root filesystem, into DIR (the Dockerfile runs this)
#   scripts/image.sh config                  the image configuration's runtime part as JSON (User,
#                                            Entrypoint, Env, WorkingDir, label keys): tests/image_files.rs
#                                            compares it with the Dockerfile's
#   scripts/image.sh unpack DEST             the layout unpacked by umoci (an independent OCI implementation
#                                            that checks every digest and size) into DEST/rootfs
#   scripts/image.sh run ROOTFS [--ro-bind SRC DEST]... [--setenv NAME VALUE]... -- ARGS...
#                                            runs meshctl from ROOTFS the way a kubelet runs the container
#   scripts/image.sh smoke [ROOTFS]          unpacks the built image (or takes ROOTFS) and proves it runs:
#                                            `version -o json` shows the commit; `serve mgmt-server` answers
#                                            /readyz and exits 0 within 30 s of SIGTERM
#   scripts/image.sh verify-reproducible     assembles the image again from scratch, from the same binary,
#                                            in a temporary directory; fails unless every byte is the same
#
# Reproducible: every entry of the layer and of the archive has mtime SOURCE_DATE_EPOCH (default: the
# commit time of HEAD), owner 0:0, a normalised mode, and comes in sorted order; gzip writes no name or
# time (-n); JSON is written with sorted keys and fixed separators; the configuration's `created` is
# SOURCE_DATE_EPOCH too. The layer and the archive are written by Python's tarfile (USTAR, one owner per
# entry, no atime/ctime), compressed by GNU gzip (whose deflate output has not changed in decades, unlike
# zlib builds that differ between distributions).
#
# Needs bash, python3, gzip and ldd (glibc); `unpack`/`smoke` need umoci, `run`/`smoke` need bubblewrap
# (bwrap) and setpriv (util-linux) and run as root (setpriv drops to uid 65532 before bwrap starts, so the
# process is uid 65532 to the kernel, as in a pod, not root in a user namespace).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${MESHCTL_IMAGE_OUT:-$ROOT/target/image}

# The image's contract; the Dockerfile states the same (tests/image_files.rs compares them).
IMAGE_UID=65532
IMAGE_USER="$IMAGE_UID:$IMAGE_UID"
ENTRYPOINT=/usr/local/bin/meshctl
IMAGE_PATH_ENV=/usr/local/bin
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
SOURCE_URL=https://github.com/meshctl/meshctl
# The name `install` renders by default (templates/values.yaml image.repository).
IMAGE_REPOSITORY=ghcr.io/meshctl/meshctl
LICENSE_ID=Apache-2.0
IMAGE_TITLE=meshctl
IMAGE_DESCRIPTION="meshctl: the management server and the agent of the meshctl platform (one image, both roles)"
# A pod's grace period: SIGTERM must end the process within it, with exit status 0.
GRACE_SECONDS=30

say() { echo "image: $*" >&2; }
die() { say "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is not on PATH ($2)"; }

# rootfs DIR BINARY: the binary, the shared objects it loads (as ldd resolves them, the dynamic loader
# included), CA certificates, passwd/group with the non-root user, nsswitch.conf, and the empty mount
# points a runtime needs (/tmp mode 1777, /proc, /sys, /dev). No shell, no package manager.
cmd_rootfs() {
  [ $# = 2 ] || die "usage: scripts/image.sh rootfs DIR BINARY"
  local dir=$1 binary=$2
  [ -f "$binary" ] && [ -x "$binary" ] || die "$binary is not an executable file"
  [ -f "$CA_BUNDLE" ] || die "$CA_BUNDLE is missing (install the ca-certificates package)"
  need ldd "it lists the shared objects meshctl loads"
  [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not empty"
  mkdir -p "$dir"
  install -D -m 0755 "$binary" "$dir$ENTRYPOINT"

  local ldd_out
  ldd_out=$(ldd "$binary" 2>&1) || die "ldd $binary failed: $ldd_out"
  if grep -q "not a dynamic executable\|statically linked" <<<"$ldd_out"; then
    say "$binary is static: no shared objects to copy"
  fi
  if grep -q "not found" <<<"$ldd_out"; then
    die "ldd cannot resolve every shared object of $binary:"$'\n'"$ldd_out"
  fi
  # `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)`;
  # linux-vdso has no file. Each lands at the path ldd names, dereferenced (the loader's path is
  # what the binary's PT_INTERP names).
  local lib
  while read -r lib; do
    [ -n "$lib" ] || continue
    [ -f "$lib" ] || die "ldd named $lib, which is not a file"
    install -D -m 0755 "$(readlink -f "$lib")" "$dir$lib"
  done < <(sed -n -e 's/^.*=> \(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x[0-9a-f]*)$/\1/p' <<<"$ldd_out" | sort -u)

  install -D -m 0644 "$(readlink -f "$CA_BUNDLE")" "$dir$CA_BUNDLE"
  mkdir -p "$dir/etc"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%s:%s:nonroot:/nonexistent:/sbin/nologin\n' \
    "$IMAGE_UID" "$IMAGE_UID" >"$dir/etc/passwd"
  printf 'root:x:0:\nnonroot:x:%s:\n' "$IMAGE_UID" >"$dir/etc/group"
  # glibc's getaddrinfo: the hosts file the kubelet mounts, then DNS.
  printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
  chmod 0644 "$dir/etc/passwd" "$dir/etc/group" "$dir/etc/nsswitch.conf"
  mkdir -p "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
  chmod 1777 "$dir/tmp"
}

# The Python that writes configurations, layers, layouts and archives. Modes: config, image.
py_oci() {
  python3 - "$@" <<'PY'
import gzip, hashlib, io, json, os, subprocess, sys, tarfile, time

def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

def env(name):
    value = os.environ.get(name)
    if value is None:
        sys.exit(f"image: error: {name} is not set")
    return value

def runtime_config():
    return {
        "User": env("IMAGE_USER"),
        "Entrypoint": [env("ENTRYPOINT")],
        "Env": ["PATH=" + env("IMAGE_PATH_ENV"), "SSL_CERT_FILE=" + env("CA_BUNDLE")],
        "WorkingDir": "/",
        "Labels": {
            "org.opencontainers.image.title": env("IMAGE_TITLE"),
            "org.opencontainers.image.description": env("IMAGE_DESCRIPTION"),
            "org.opencontainers.image.version": env("IMAGE_VERSION"),
            "org.opencontainers.image.revision": env("IMAGE_REVISION"),
            "org.opencontainers.image.source": env("SOURCE_URL"),
            "org.opencontainers.image.licenses": env("LICENSE_ID"),
            "org.opencontainers.image.created": env("IMAGE_CREATED"),
        },
    }

def deterministic_tar(root, out, epoch, top=""):
    """Every file under root, sorted by path, as a USTAR archive: owner 0:0, mtime epoch, modes
    normalised (directories 0755 and /tmp 1777, executables 0755, other files 0644)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + filenames:
            entries.append(os.path.join(dirpath, name))
    entries.sort(key=lambda p: os.path.relpath(p, root).encode())
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in entries:
            rel = os.path.relpath(path, root)
            info = tar.gettarinfo(path, arcname=os.path.join(top, rel) if top else rel)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = epoch
            if info.isdir():
                info.mode = 0o1777 if rel == "tmp" else 0o755
            elif info.isfile():
                info.mode = 0o755 if os.stat(path).st_mode & 0o111 else 0o644
            elif info.issym():
                info.mode = 0o777
            else:
                sys.exit(f"image: error: {path} is neither a file, a directory nor a symlink")
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)

def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest

def image(rootfs, layout, archive, summary_path):
    epoch = int(env("SOURCE_DATE_EPOCH"))
    arch = env("IMAGE_ARCH")
    version = env("IMAGE_VERSION")
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    layer_tar = io.BytesIO()
    deterministic_tar(rootfs, layer_tar, epoch)
    layer = layer_tar.getvalue()
    gz = subprocess.run(["gzip", "-n", "-9", "-c"], input=layer, stdout=subprocess.PIPE, check=True).stdout
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layer_digest = write_blob(layout, gz)
    created = env("IMAGE_CREATED")
    config = {
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": runtime_config(),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "scripts/image.sh build",
                     "comment": "meshctl release binary, its shared objects, CA certificates, user 65532"}],
    }
    config_bytes = canonical(config)
    config_digest = write_blob(layout, config_bytes)
    labels = config["config"]["Labels"]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": len(gz)}],
        "annotations": {k: v for k, v in labels.items() if k != "org.opencontainers.image.description"},
    }
    manifest_bytes = canonical(manifest)
    manifest_digest = write_blob(layout, manifest_bytes)
    # As install renders the tag (a `+` is not allowed in a tag).
    tag = version.replace("+", "-")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": len(manifest_bytes),
            "platform": {"architecture": arch, "os": "linux"},
            # The tag (umoci, skopeo oci:DIR:TAG), and the full name containerd and Docker give
            # the image when they import the archive (ctr images import, docker load).
            "annotations": {"org.opencontainers.image.ref.name": tag,
                            "io.containerd.image.name": env("IMAGE_REPOSITORY") + ":" + tag},
        }],
    }
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical(index))
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with open(archive, "wb") as f:
        deterministic_tar(layout, f, epoch)
    summary = {
        "digest": manifest_digest,
        "config_digest": config_digest,
        "layer_digest": layer_digest,
        "layer_diff_id": diff_id,
        "compressed_bytes": len(gz),
        "uncompressed_bytes": len(layer),
        "archive_bytes": os.path.getsize(archive),
        "version": version,
        "tag": tag,
        "revision": env("IMAGE_REVISION"),
        "created": created,
        "architecture": arch,
    }
    with open(summary_path, "w") as f:
        f.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary, indent=2, sort_keys=True))

mode = sys.argv[1]
if mode == "config":
    print(json.dumps(runtime_config(), indent=2, sort_keys=True))
elif mode == "image":
    image(*sys.argv[2:6])
else:
    sys.exit(f"image: error: unknown mode {mode}")
PY
}

export_contract() {
  export IMAGE_USER ENTRYPOINT IMAGE_PATH_ENV CA_BUNDLE SOURCE_URL LICENSE_ID IMAGE_TITLE IMAGE_DESCRIPTION IMAGE_REPOSITORY
}

cmd_config() {
  export_contract
  # Placeholders: the runtime part and the label keys are what the Dockerfile must state alike.
  IMAGE_VERSION='${VERSION}' IMAGE_REVISION='${REVISION}' IMAGE_CREATED='${CREATED}' py_oci config
}

go_arch() {
  case "$1" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) die "no OCI architecture name known for $1" ;;
  esac
}

# assemble BINARY OUTDIR: the image from a built binary, into OUTDIR (oci/, the archive, rootfs/,
# image.json). Nothing of an earlier run is reused.
assemble() {
  local binary=$1 out=$2
  need python3 "it writes the image's JSON and tar files"
  need gzip "it compresses the layer"
  need git "the image's revision and time come from the commit"
  local version_json version commit target revision epoch created arch
  version_json=$("$binary" version -o json) || die "$binary version -o json failed"
  read -r version commit target < <(python3 -c 'import json,sys; c=json.load(sys.stdin)["client"]; print(c["version"], c["git_commit"], c["target"])' <<<"$version_json") \
    || die "cannot read the version of $binary: $version_json"
  revision=${MESHCTL_IMAGE_REVISION:-$(git -C "$ROOT" rev-parse HEAD)}
  case "$revision" in
    "$commit"*) ;;
    *) die "$binary was built from commit $commit, but the image would be labelled $revision: rebuild it (cargo build --release --locked)" ;;
  esac
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    say "note: the working tree has uncommitted changes; the image is labelled with HEAD ($revision) all the same"
  fi
  epoch=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  arch=$(go_arch "${target%%-*}")

  rm -rf "$out"
  mkdir -p "$out"
  cmd_rootfs "$out/rootfs" "$binary"
  export_contract
  export SOURCE_DATE_EPOCH=$epoch IMAGE_ARCH=$arch IMAGE_VERSION=$version IMAGE_REVISION=$revision IMAGE_CREATED=$created
  py_oci image "$out/rootfs" "$out/oci" "$out/meshctl-$version.oci.tar" "$out/image.json" >/dev/null
}

cmd_build() {
  local binary=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --binary) binary=${2:?--binary needs a path}; shift 2 ;;
      *) die "unknown argument $1 (usage: scripts/image.sh build [--binary PATH])" ;;
    esac
  done
  if [ -z "$binary" ]; then
    say "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked)
    binary=$ROOT/target/release/meshctl
  fi
  assemble "$binary" "$OUT"
  # The binary the image holds, for verify-reproducible.
  echo "$binary" >"$OUT/binary-path"
  python3 - "$OUT/image.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
mib = lambda n: f"{n / 1048576:.1f} MiB"
print(f"image: meshctl {s['version']} ({s['revision']})")
print(f"image: digest {s['digest']}")
print(f"image: layer {mib(s['compressed_bytes'])} compressed, {mib(s['uncompressed_bytes'])} uncompressed")
PY
  say "OCI layout: $OUT/oci (tag $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tag"])' "$OUT/image.json"))"
  say "OCI archive: $(ls "$OUT"/meshctl-*.oci.tar)"
}

cmd_verify_reproducible() {
  [ -f "$OUT/image.json" ] && [ -f "$OUT/binary-path" ] || die "no image in $OUT: run scripts/image.sh build first"
  local binary first second tmp
  binary=$(cat "$OUT/binary-path")
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  assemble "$binary" "$tmp/again"
  first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$OUT/image.json")
  second=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$tmp/again/image.json")
  echo "image: first build  $first"
  echo "image: second build $second"
  [ "$first" = "$second" ] || die "the image is not reproducible: two assemblies from $binary differ"
  local a b
  a=$(cd "$OUT/oci" && find . -type f | sort | xargs sha256sum)
  b=$(cd "$tmp/again/oci" && find . -type f | sort | xargs sha256sum)
  [ "$a" = "$b" ] || die "the layouts differ:"$'\n'"$(diff <(echo "$a") <(echo "$b") || true)"
  cmp -s "$OUT"/meshctl-*.oci.tar "$tmp"/again/meshctl-*.oci.tar || die "the OCI archives differ"
  echo "image: reproducible: same manifest digest, same blobs, same archive bytes"
}

cmd_unpack() {
  [ $# = 1 ] || die "usage: scripts/image.sh unpack DEST"
  need umoci "apt-get install umoci"
  local dest=$1 tag
  [ -f "$OUT/image.json" ] || die "no image in $OUT: run scripts/image.sh build first"
  tag=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tag"])' "$OUT/image.json")
  rm -rf "$dest"
  umoci unpack --image "$OUT/oci:$tag" "$dest" >&2
  # umoci makes the bundle 0700; uid 65532 (run) must reach the root filesystem inside it.
  chmod 0755 "$dest"
  [ -x "$dest/rootfs$ENTRYPOINT" ] || die "umoci unpacked no $ENTRYPOINT into $dest/rootfs"
  (cd "$dest/rootfs" && pwd)
}

# run ROOTFS [--ro-bind SRC DEST]... [--setenv NAME VALUE]... -- ARGS...
# As a kubelet runs the container (readOnlyRootFilesystem, runAsUser/runAsGroup 65532, an emptyDir
# at /tmp): setpriv sets uid and gid 65532 and clears supplementary groups, capabilities and the
# bounding set (no_new_privs); bwrap then gives new mount, PID, IPC, UTS and cgroup namespaces with
# meshctl as PID 1, a root of the image's top-level entries bound read-only (and nothing else of the
# host), fresh /proc, a minimal /dev, a tmpfs /tmp, the environment of the image config plus --setenv
# only, and the host's network (the e2e API servers listen on the host's loopback).
cmd_run() {
  local rootfs=${1:?usage: scripts/image.sh run ROOTFS [--ro-bind SRC DEST]... [--setenv NAME VALUE]... -- ARGS...}
  shift
  need bwrap "apt-get install bubblewrap"
  need setpriv "util-linux"
  [ "$(id -u)" = 0 ] || die "run needs root: it sets uid $IMAGE_UID without a user namespace mapping"
  [ -x "$rootfs$ENTRYPOINT" ] || die "$rootfs has no $ENTRYPOINT"
  local mounts=() envs=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --ro-bind) mounts+=(--ro-bind "${2:?}" "${3:?}"); shift 3 ;;
      --setenv) envs+=(--setenv "${2:?}" "${3:?}"); shift 3 ;;
      --) shift; break ;;
      *) die "unknown run argument $1" ;;
    esac
  done
  local root=() entry name
  for entry in "$rootfs"/* "$rootfs"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    case "$name" in proc|dev|tmp|sys) continue ;; esac
    if [ -L "$entry" ]; then
      root+=(--symlink "$(readlink "$entry")" "/$name")
    else
      root+=(--ro-bind "$entry" "/$name")
    fi
  done
  exec setpriv --reuid="$IMAGE_UID" --regid="$IMAGE_UID" --clear-groups \
    --inh-caps=-all --bounding-set=-all --no-new-privs \
    bwrap --unshare-all --share-net --die-with-parent --as-pid-1 \
    --tmpfs / "${root[@]}" --proc /proc --dev /dev --tmpfs /tmp \
    "${mounts[@]}" --remount-ro / \
    --clearenv --setenv PATH "$IMAGE_PATH_ENV" --setenv SSL_CERT_FILE "$CA_BUNDLE" "${envs[@]}" \
    --chdir / \
    -- "$ENTRYPOINT" "$@"
}

# The host PID of the meshctl process under bwrap PID $1 (bwrap forks before it execs meshctl).
meshctl_pid_under() {
  local pid=$1 child
  for _ in $(seq 100); do
    for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = meshctl ]; then
        echo "$child"; return 0
      fi
      for grandchild in $(cat /proc/"$child"/task/*/children 2>/dev/null); do
        if [ "$(cat /proc/"$grandchild"/comm 2>/dev/null)" = meshctl ]; then
          echo "$grandchild"; return 0
        fi
      done
    done
    sleep 0.1
  done
  return 1
}

cmd_smoke() {
  local rootfs=${1:-}
  local work
  work=$(mktemp -d)
  chmod 0755 "$work"
  SMOKE_SERVER_PID=""
  # shellcheck disable=SC2064
  trap "[ -z \"\$SMOKE_SERVER_PID\" ] || kill \"\$SMOKE_SERVER_PID\" 2>/dev/null || true; rm -rf '$work'" EXIT
  if [ -z "$rootfs" ]; then
    rootfs=$(cmd_unpack "$work/bundle")
  fi
  local expected_commit=""
  if [ -f "$OUT/image.json" ]; then
    expected_commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])' "$OUT/image.json")
  fi

  echo "--- smoke: meshctl version -o json (uid $IMAGE_UID, read-only root)"
  local version_json
  version_json=$("$ROOT/scripts/image.sh" run "$rootfs" -- version -o json) || die "version -o json failed in the image"
  echo "$version_json"
  python3 - "$version_json" "$expected_commit" <<'PY' || die "version -o json does not show the commit"
import json, sys
client = json.loads(sys.argv[1])["client"]
commit, expected = client["git_commit"], sys.argv[2]
assert commit and commit != "unknown", f"no commit in {client}"
assert not expected or expected.startswith(commit), f"commit {commit}, image revision {expected}"
print(f"smoke: commit {commit} (image revision {expected or 'not known'})")
PY

  echo "--- smoke: no shell in the image"
  for sh in bin/sh bin/bash usr/bin/sh bin/busybox usr/bin/apt usr/bin/dpkg; do
    [ ! -e "$rootfs/$sh" ] || die "the image holds /$sh"
  done
  echo "smoke: no /bin/sh, bash, busybox, apt or dpkg"

  echo "--- smoke: serve mgmt-server answers /readyz, stops on SIGTERM within ${GRACE_SECONDS}s"
  local log=$work/server.log
  # --state-dir on the tmpfs: no cluster here (the e2e tier, tests/e2e_image.rs, runs it in-cluster).
  "$ROOT/scripts/image.sh" run "$rootfs" -- serve mgmt-server --state-dir /tmp/state \
    --relay-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$log" 2>&1 &
  SMOKE_SERVER_PID=$!
  local admin=""
  for _ in $(seq 300); do
    admin=$(sed -n 's/.*admin listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -z "$admin" ] || break
    kill -0 "$SMOKE_SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "the server exited before it listened"; }
    sleep 0.1
  done
  [ -n "$admin" ] || { cat "$log" >&2; die "the server logged no admin address within 30 s"; }
  local meshctl_pid
  meshctl_pid=$(meshctl_pid_under "$SMOKE_SERVER_PID") || die "no meshctl process under bwrap $SMOKE_SERVER_PID"
  local uid
  uid=$(awk '/^Uid:/ {print $2 ":" $3 ":" $4 ":" $5}' /proc/"$meshctl_pid"/status)
  [ "$uid" = "$IMAGE_UID:$IMAGE_UID:$IMAGE_UID:$IMAGE_UID" ] || die "meshctl runs as uid $uid, not $IMAGE_UID"
  echo "smoke: pid $meshctl_pid runs as uid $IMAGE_UID (real, effective, saved, fs)"
  local ready=""
  for _ in $(seq 300); do
    if ready=$(python3 - "$admin" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}/readyz", timeout=2) as r:
        print(r.status)
except Exception as e:
    sys.exit(1)
PY
    ); then break; fi
    sleep 0.1
  done
  [ "$ready" = 200 ] || { cat "$log" >&2; die "GET /readyz on $admin did not answer 200"; }
  echo "smoke: GET http://$admin/readyz -> 200"
  local start=$SECONDS status=0
  kill -TERM "$meshctl_pid"
  for _ in $(seq $((GRACE_SECONDS * 10))); do
    kill -0 "$SMOKE_SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SMOKE_SERVER_PID" 2>/dev/null; then
    cat "$log" >&2
    die "the server still runs ${GRACE_SECONDS}s after SIGTERM"
  fi
  wait "$SMOKE_SERVER_PID" || status=$?
  SMOKE_SERVER_PID=""
  [ "$status" = 0 ] || { cat "$log" >&2; die "the server exited with status $status after SIGTERM"; }
  grep -q "shutdown requested" "$log" || { cat "$log" >&2; die "the server did not log its shutdown"; }
  echo "smoke: SIGTERM -> exit 0 after $((SECONDS - start)) s"
  echo "smoke: passed"
}

cmd=${1:-}
[ -n "$cmd" ] || { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 2; }
shift
case "$cmd" in
  build) cmd_build "$@" ;;
  rootfs) cmd_rootfs "$@" ;;
  config) cmd_config "$@" ;;
  unpack) cmd_unpack "$@" ;;
  run) cmd_run "$@" ;;
  smoke) cmd_smoke "$@" ;;
  verify-reproducible) cmd_verify_reproducible "$@" ;;
  *) die "unknown command $cmd (build, rootfs, config, unpack, run, smoke, verify-reproducible)" ;;
esac
