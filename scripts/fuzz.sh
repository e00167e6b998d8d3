#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer) for a fixed number of executions each:
# what CI runs (.ci/run). docs/testing.md explains the targets and their seed corpora.
#
#   scripts/fuzz.sh [TARGET...]     every target in fuzz/fuzz_targets/ when none is named
#
#   MESHCTL_FUZZ_RUNS   executions per target (default: 200000 for license_parse, ~3 s; 25000 for
#                       values_parse, which resolves and renders values at ~250 executions a second on
#                       2 loaded cores: 200000 took 14 minutes; together under 3 minutes in CI)
#   MESHCTL_FUZZ_CACHE  where cargo-fuzz is installed when it is missing (default ~/.cache/meshctl-fuzz)
#
# Each target starts from its checked-in seed corpus, fuzz/corpus/<target>/, which is only read: new
# inputs go to a scratch corpus under fuzz/target/. A crash fails the script, naming the input
# libFuzzer saved under fuzz/artifacts/<target>/; reproduce it with
#   cd fuzz && cargo fuzz run <target> artifacts/<target>/<file>
#
# Toolchain: cargo-fuzz needs nightly features. With a nightly toolchain in rustup (`cargo +nightly`)
# it is used; otherwise the stable toolchain runs with RUSTC_BOOTSTRAP=1 (nightly features on a
# stable compiler; without a sanitizer, which the stable standard library is not built for). The
# targets use no sanitizer either way (the code under test has no unsafe code; coverage guidance
# and the targets' assertions do the work), so both build the same fuzzers. cargo-fuzz itself comes
# from crates.io (`cargo install cargo-fuzz --locked`). When fuzzing truly cannot run, the script
# says so in a line starting with `!!! fuzzing SKIPPED` and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

runs_of() {
  if [ -n "${MESHCTL_FUZZ_RUNS:-}" ]; then
    echo "$MESHCTL_FUZZ_RUNS"
  elif [ "$1" = values_parse ]; then
    echo 25000
  else
    echo 200000
  fi
}
cache="${MESHCTL_FUZZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshctl-fuzz}"

skip() {
  echo "!!! fuzzing SKIPPED: $*" >&2
  exit 0
}

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for file in fuzz/fuzz_targets/*.rs; do
    targets+=("$(basename "$file" .rs)")
  done
fi

# cargo-fuzz: on PATH, in the cache, or installed into the cache.
export PATH="$cache/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "+ cargo install cargo-fuzz --locked --root $cache"
  cargo install cargo-fuzz --locked --root "$cache" \
    || skip "cargo-fuzz is not installed and 'cargo install cargo-fuzz --locked' failed"
fi
cargo fuzz --version

# The toolchain: nightly when rustup has it, else stable with RUSTC_BOOTSTRAP=1.
toolchain=()
if command -v rustup >/dev/null && rustup run nightly cargo --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  echo "toolchain: nightly ($(rustup run nightly rustc --version))"
else
  export RUSTC_BOOTSTRAP=1
  echo "toolchain: $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly toolchain)"
fi

cd fuzz
build=(cargo "${toolchain[@]}" fuzz build --sanitizer none --debug-assertions)
echo "+ ${build[*]} ${targets[*]}"
for target in "${targets[@]}"; do
  "${build[@]}" "$target" \
    || skip "cargo fuzz build $target failed with $(cargo "${toolchain[@]}" --version) (see above)"
done

status=0
for target in "${targets[@]}"; do
  runs=$(runs_of "$target")
  seeds="corpus/$target"
  work="target/fuzz-corpus/$target"
  mkdir -p "$seeds" "$work" "artifacts/$target"
  echo "--- fuzz $target: $runs executions from $(find "$seeds" -type f | wc -l) seeds"
  start=$(date +%s)
  # -rss_limit_mb: an input that needs more than 1 GiB is a finding too.
  if ! cargo "${toolchain[@]}" fuzz run --sanitizer none --debug-assertions "$target" "$work" "$seeds" -- \
    -runs="$runs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1; then
    echo "!!! fuzz $target FAILED: the input is in fuzz/artifacts/$target/ (reproduce: cd fuzz && cargo fuzz run $target artifacts/$target/<file>)" >&2
    status=1
  fi
  echo "fuzz $target: $(($(date +%s) - start)) s"
done
exit "$status"
