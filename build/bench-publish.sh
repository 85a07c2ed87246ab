#!/usr/bin/env bash
# What the user waits for: this SDK's tasks timed inside a real `dotnet publish` of the sample (MSBuild's task
# performance summary: the load of the task's assemblies, their JIT and any garbage collection that falls in them
# included), the task as shipped for this machine (precompiled, ReadyToRun) beside the IL build of the same code,
# interleaved, median of RUNS (default 3). build/bench.sh runs it (not with --quick); alone:
#   build/bench-publish.sh [RUNS]
# Prints table rows (| measure | OciBundle | baseline | ratio | target | met |). Quote the ratios, not the times.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ocibundle-bench-publish-XXXXXX")"
sample="$root/samples/HelloBundle"
program="$sample/Program.cs"
cp "$program" "$work/Program.cs.orig"
trap 'cp "$work/Program.cs.orig" "$program"; rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDTERMINALLOGGER=off
# Each publish in a process of its own with no MSBuild node left from the last one: nothing is warm but the disk.
export MSBUILDDISABLENODEREUSE=1
out="$sample/bin/Release/net10.0/linux-x64"
state="$sample/obj/Release/net10.0/linux-x64/ocibundle"
tasks="$root/src/OciBundle.Tasks/bin/Release/net8.0"
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64) rid=linux-arm64 ;; *) echo "no precompiled task for $(uname -m)" >&2; exit 1 ;; esac
# The task as built (IL) and as the package ships it for this machine (OciBundle.Tasks.csproj builds both).
dotnet build "$root/src/OciBundle.Tasks" -c Release -nologo -v:q -clp:NoSummary >/dev/null
declare -A variant=([il]="$tasks/OciBundle.Tasks.dll" [r2r]="$tasks/ReadyToRun/$rid/OciBundle.Tasks.dll")
real_home="$HOME"
nuget="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
all_tasks='^(BuildOciContainer|CheckOciBundleProject|CheckOciBundlePublishItems|CheckOciBundleSwitches|FindOciRuntime|CleanOciOutputs|WriteOciImageIndex|PushOciImage)$'

# publish_ms PATTERN VARIANT ARGS...: the milliseconds of the tasks whose name matches PATTERN in one publish of the
# sample (lines like "     2886 ms  BuildOciContainer                          1 calls").
publish_ms() {
  local pattern="$1" task="${variant[$2]}"; shift 2
  dotnet publish "$sample" -c Release --no-restore -nologo -v:q -clp:PerformanceSummary \
    -p:OciBundleTasksAssembly="$task" -p:_OciBundleSampleTasksBuilt=true "$@" \
    | awk '/Task Performance Summary/{t=1} t' | awk -v p="$pattern" '$3 ~ p {s+=$1} END {printf "%d", s}'
}
change_app() { printf '\n// bench %s\nConsole.WriteLine("changed %s");\n' "$(date +%s%N)" "$(date +%s%N)" >> "$program"; }
clean() { rm -rf "$out/oci-bundle" "$out/oci-image" "$state"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}' && echo yes || echo NO; }

# Restore and compile once: every timed publish after this compiles only after an app change.
dotnet publish "$sample" -c Release -p:PublishOciBundle=true -p:OciBundleTasksAssembly="${variant[il]}" -p:_OciBundleSampleTasksBuilt=true -nologo -v:q -clp:NoSummary >/dev/null
declare -A full change noop first first_ratio image_full image_change archive_full archive_change
cp_ms=() cp_first=()
for run in $(seq 1 "$runs"); do
  order="il r2r"; [ $((run % 2)) -eq 0 ] && order="r2r il"
  for v in $order; do
    clean; sync
    full[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciBundle=true)"
    if [ "$v" = il ]; then  # the baseline, once a run: cp -a of the bundle just written
      sync; start=$(date +%s%N); cp -a "$out/oci-bundle" "$work/copy"; cp_ms+=($(( ($(date +%s%N) - start) / 1000000 ))); rm -rf "$work/copy"
    fi
    change_app
    change[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciBundle=true)"
    noop[$v]+=" $(publish_ms "$all_tasks" "$v" -p:PublishOciBundle=true)"
    # The first publish on a machine: a home of its own (no per-user cache of this SDK), the same packages and CLI state.
    clean; sync; mkdir -p "$work/home-$v-$run"
    first_ms=$(HOME="$work/home-$v-$run" DOTNET_CLI_HOME="$real_home" NUGET_PACKAGES="$nuget" XDG_CACHE_HOME= publish_ms '^BuildOciContainer$' "$v" -p:PublishOciBundle=true)
    first[$v]+=" $first_ms"
    # Its baseline in the same minute: this disk's speed moves between minutes, and a first publish is mostly writing.
    # Each publish is divided by its own copy; the row gives the median of those ratios.
    sync; start=$(date +%s%N); cp -a "$out/oci-bundle" "$work/copy"; copy_ms=$(( ($(date +%s%N) - start) / 1000000 )); rm -rf "$work/copy"
    cp_first+=("$copy_ms")
    first_ratio[$v]+=" $(awk -v a="$first_ms" -v b="$copy_ms" 'BEGIN {printf "%.4f", a / b}')"
    clean; sync
    image_full[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciImage=true)"
    change_app
    image_change[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciImage=true)"
    # The image and its oci-archive (OciImageArchive): a full write, then after an app change.
    clean; rm -f "$work/image.tar"; sync
    archive_full[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciImage=true -p:OciImageArchive="$work/image.tar")"
    change_app
    archive_change[$v]+=" $(publish_ms '^BuildOciContainer$' "$v" -p:PublishOciImage=true -p:OciImageArchive="$work/image.tar")"
  done
done

declare -A m
for v in il r2r; do
  for row in full change noop first image_full image_change archive_full archive_change; do
    eval "values=\"\${${row}[$v]}\""
    # shellcheck disable=SC2086
    m[$row-$v]=$(median $values)
  done
done
cp_median=$(median "${cp_ms[@]}")
cp_first_median=$(median "${cp_first[@]}")
# row MEASURE KEY BASELINE-TEXT BASE-PRECOMPILED BASE-IL TARGET LIMIT: the ratio of each to its own baseline; met when
# the precompiled one's is <= LIMIT. With BASE "-", the milliseconds are compared to LIMIT and the ratio is precompiled / IL.
row() {
  local r2r="${m[$2-r2r]}" il="${m[$2-il]}"
  if [ "$4" = - ]; then
    local met; met=$([ "$7" = - ] && echo - || le "$r2r" "$7")
    echo "| $1 | ${r2r} ms; ${il} ms | - | $(ratio "$r2r" "$il") precompiled / IL | $6 | ${met} |"
  else
    echo "| $1 | ${r2r} ms; ${il} ms | $3 | $(ratio "$r2r" "$4"); $(ratio "$il" "$5") | $6 | $(le "$(awk -v a="$r2r" -v b="$4" 'BEGIN {print a / b}')" "$7") |"
  fi
}
c="$cp_median"
row "publish: bundle step after an app change vs cp -a of the bundle (precompiled; IL)" change "$c ms (cp -a)" "$c" "$c" "<= 1.0x" 1.0
row "publish: bundle step after an app change vs a full bundle step (precompiled; IL)" change "${m[full-r2r]} ms; ${m[full-il]} ms (full)" "${m[full-r2r]}" "${m[full-il]}" "<= 0.3x" 0.3
row "publish: full bundle step vs cp -a of the bundle (precompiled; IL)" full "$c ms (cp -a)" "$c" "$c" "report" 1000
# shellcheck disable=SC2086
first_r2r=$(median ${first_ratio[r2r]}) first_il=$(median ${first_ratio[il]})
echo "| publish: first publish on a machine (fresh HOME) vs cp -a right after each (precompiled; IL; the median of each publish's ratio) | ${m[first-r2r]} ms; ${m[first-il]} ms | ${cp_first_median} ms (cp -a, median of both) | $(printf '%.2fx; %.2fx' "$first_r2r" "$first_il") | <= 2.0x | $(le "$first_r2r" 2.0) |"
row "publish: image after an app change vs a full image write (precompiled; IL)" image_change "${m[image_full-r2r]} ms; ${m[image_full-il]} ms (full)" "${m[image_full-r2r]}" "${m[image_full-il]}" "<= 0.1x" 0.1
row "publish: archive after an app change vs a full archive write (precompiled; IL)" archive_change "${m[archive_full-r2r]} ms; ${m[archive_full-il]} ms (full)" "${m[archive_full-r2r]}" "${m[archive_full-il]}" "<= 0.3x" 0.3
row "publish: no-op, all of this SDK's tasks (precompiled; IL)" noop - - - "<= 50 ms" 50
row "publish: full bundle step (precompiled; IL)" full - - - "report" -
row "publish: full image write (precompiled; IL)" image_full - - - "report" -
row "publish: full image and archive write (precompiled; IL)" archive_full - - - "report" -
echo "| publish: runs, each interleaved (median of) | ${runs} | | | | |"
