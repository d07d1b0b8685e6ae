#!/usr/bin/env bash
# fuzz/run.sh — build the libFuzzer harnesses of the data readers (clang, ASan + UBSan) and run
# them. Needs clang-14 and libclang-rt-14-dev (./run.sh installs both).
#
#   fuzz/run.sh [--out DIR] [--seconds N] [READER...]
#
# READER is safetensors, npy, npz or idx (default: all four, one after another). Each runs N
# seconds (default 600) under `nice -n 19`, starting from the committed seeds in
# fuzz/corpus/READER; what it discovers goes to DIR/corpus-READER, never into the seeds. Any
# crash, sanitizer report, leak or timeout fails the script; the input is kept as DIR/crash-*.
# The meson test "fuzz-readers" runs all four for 7 seconds each.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${TMPDIR:-/tmp}/nfn-fuzz
seconds=600
readers=()
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    safetensors|npy|npz|idx) readers+=("$1"); shift ;;
    *) echo "fuzz/run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
((${#readers[@]})) || readers=(safetensors npy npz idx)

cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
  echo "fuzz/run.sh: clang not found (install clang-14 libclang-rt-14-dev: ./run.sh does)" >&2
  exit 1
fi
mkdir -p "$out"

common=(-g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
        -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
        -I"$root/data" $(pkg-config --cflags glib-2.0 zlib))
libs=($(pkg-config --libs glib-2.0 zlib) -lm)
sources=(nfn_safetensors nfn_numpy nfn_datasets)

# The readers once, instrumented for coverage but without libFuzzer's main.
objects=()
for s in "${sources[@]}"; do
  "$cc" "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$root/data/$s.c" -o "$out/$s.o"
  objects+=("$out/$s.o")
done

declare -A number=([safetensors]=1 [npy]=2 [npz]=3 [idx]=4)
declare -A max_len=([safetensors]=16384 [npy]=16384 [npz]=65536 [idx]=16384)
for r in "${readers[@]}"; do
  "$cc" "${common[@]}" -fsanitize=fuzzer,address,undefined -DFUZZ_READER="${number[$r]}" \
    "$here/fuzz_readers.c" "${objects[@]}" "${libs[@]}" -o "$out/fuzz-$r"
done

status=0
for r in "${readers[@]}"; do
  mkdir -p "$out/corpus-$r"
  log="$out/fuzz-$r.log"
  echo "fuzz/run.sh: $r for ${seconds}s (log: $log)"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
     nice -n 19 "$out/fuzz-$r" -max_total_time="$seconds" -max_len="${max_len[$r]}" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crash-$r-" \
       "$out/corpus-$r" "$here/corpus/$r" >"$log" 2>&1; then
    # The last status line (execs, coverage, corpus) and the run count.
    grep -E '^#[0-9]+' "$log" | tail -n 1
    grep -E '^stat::number_of_executed_units' "$log" || true
  else
    status=1
    echo "fuzz/run.sh: $r FAILED:" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal' "$log" | head -n 20 >&2 || tail -n 30 "$log" >&2
  fi
done
exit $status
