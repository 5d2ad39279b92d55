#!/bin/bash
# bench/ablations/run.sh [NAME...]: callgrind instructions per HTTPS users.get
# with each speed trick taken out, against the tree as committed.
#
# Each NAME is a patch here (NAME.patch, without the extension), or several
# joined with "+" (r-real-request-id+a-no-hcache); "base" is the tree unchanged. Every NAME is built in its own copy of the committed tree
# (git archive HEAD) under a temporary directory, never in the work tree, and
# counted with `BENCH_ONLY=instructions BENCH_INSTR=lua-msgraph bench/run.sh`.
# The configurations run in rounds (base, then each patch), so that all of
# them see the same machine; the table gives each round's count and their
# median, and the median's difference to base's.
#
#   ABL_ROUNDS=3     rounds
#   BENCH_CG_N=1000  requests told apart per count (see bench/run.sh)
#   ABL_KEEP=DIR     keep each configuration's callgrind files in DIR/NAME
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ABL_ROUNDS:-3}
export BENCH_CG_N=${BENCH_CG_N:-1000}
KEEP=${ABL_KEEP:-}
[ $# -gt 0 ] || set -- base $(cd "$here" && ls *.patch | sed 's/\.patch$//')

work=$(mktemp -d "${TMPDIR:-/tmp}/lua-msgraph-ablate.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

for name in "$@"; do
  mkdir -p "$work/$name"
  (cd "$root" && git archive HEAD) | tar -x -C "$work/$name" || exit 1
  if [ "$name" != base ]; then
    for one in $(printf '%s' "$name" | tr '+' ' '); do
      patch -s -d "$work/$name" -p1 < "$here/$one.patch" || { echo "ablate: $one does not apply" >&2; exit 1; }
    done
  fi
  make -s -C "$work/$name" all LUA=lua5.4 > "$work/$name.build" 2>&1 ||
    { echo "ablate: $name does not build:" >&2; tail -5 "$work/$name.build" >&2; exit 1; }
done

for r in $(seq "$ROUNDS"); do
  for name in "$@"; do
    cg=""
    [ -z "$KEEP" ] || cg="$KEEP/$name/round$r"
    v=$(BENCH_ONLY=instructions BENCH_INSTR=lua-msgraph BENCH_CG_DIR=$cg LUA=lua5.4 \
          bash "$work/$name/bench/run.sh" 2>/dev/null | awk -F' [|] ' '/^\| lua-msgraph/ {print $2}')
    echo "$name round $r: ${v:-fail}" >&2
    printf '%s\t%s\n' "$name" "${v:-fail}" >> "$work/counts"
  done
done

# name, each round's count, median, median - base's median
awk -F'\t' '
  { v[$1] = v[$1] (v[$1] == "" ? "" : " ") $2; if (!($1 in seen)) { seen[$1]; order[++k] = $1 } }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    print "| configuration | counts | median | vs base |"
    print "| --- | --- | ---: | ---: |"
    b = ("base" in seen) ? median(v["base"]) : ""
    for (i = 1; i <= k; i++) {
      m = median(v[order[i]])
      printf "| %s | %s | %d | %s |\n", order[i], v[order[i]], m, b == "" ? "-" : sprintf("%+d", m - b)
    }
  }' "$work/counts"
