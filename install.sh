#!/usr/bin/env sh
# Builds meshctl from this checkout and installs it, with shell completion.
# Safe to re-run: it replaces the previous installation.
set -eu

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--prefix DIR] [--shell bash|zsh|fish|none] [--help]

Builds meshctl (cargo install --locked --path .) and installs it into DIR/bin.

Options:
  --prefix DIR   installation prefix (default: $HOME/.local); the binary goes to DIR/bin/meshctl
  --shell SHELL  shell to install completion for (default: from $SHELL; "none" to skip)
  -h, --help     show this help

Environment:
  MESHCTL_PREFIX  same as --prefix
USAGE
}

prefix="${MESHCTL_PREFIX:-$HOME/.local}"
shell_name="$(basename "${SHELL:-}")"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --shell) [ $# -ge 2 ] || { echo "install.sh: --shell needs a value" >&2; exit 2; }; shell_name="$2"; shift 2 ;;
    --shell=*) shell_name="${1#--shell=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo was not found on PATH." >&2
  echo "meshctl is built from source with Rust's cargo; install Rust (https://rustup.rs) and re-run ./install.sh." >&2
  exit 1
fi

repo="$(cd "$(dirname "$0")" && pwd)"
bin="$prefix/bin/meshctl"

echo "==> Building and installing meshctl into $prefix/bin (cargo install --locked --path $repo)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" cargo install --locked --force --quiet --path "$repo" --root "$prefix"

completion_path=""
case "$shell_name" in
  bash)
    dir="${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions"
    completion_path="$dir/meshctl" ;;
  zsh)
    dir="$HOME/.zfunc"
    completion_path="$dir/_meshctl" ;;
  fish)
    dir="${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
    completion_path="$dir/meshctl.fish" ;;
  none|"") ;;
  *) echo "==> No completion installed for shell '$shell_name' (run 'meshctl completion --help')" ;;
esac

if [ -n "$completion_path" ]; then
  mkdir -p "$(dirname "$completion_path")"
  "$bin" completion "$shell_name" > "$completion_path.tmp"
  mv "$completion_path.tmp" "$completion_path"
  echo "==> Installed $shell_name completion: $completion_path"
  if [ "$shell_name" = zsh ]; then
    echo "    (make sure ~/.zshrc has: fpath=(~/.zfunc \$fpath); autoload -U compinit; compinit)"
  fi
fi

echo "==> Installed $bin ($("$bin" version -o json | sed -n 's/.*"version": "\(.*\)".*/\1/p' | head -n 1))"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "==> $prefix/bin is not on your PATH; add it, e.g.: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
