#!/usr/bin/env bash
# The performance benchmark: the bundle step next to its baselines, in one run, with ratios.
#   build/bench.sh           full run: the warm-engine rows (about two minutes; needs ~3 GB free in $TMPDIR), then the
#                            rows timed through real publishes, precompiled task vs IL (build/bench-publish.sh, 48
#                            publishes of the sample: ten minutes or more), and the bytes a push sends after a change
#                            beside PublishContainer's (build/bench-layers.sh, three to five minutes; needs
#                            docker-registry, skopeo, jq)
#   build/bench.sh --quick   smaller synthetic tree, fewer repetitions, no publish rows (what CI runs; it never fails on timings)
# Baselines: cp -a of the finished bundle; lddtree --copy-to-tree + runc spec (Debian pax-utils, python3-pyelftools,
# runc) when installed. Quote the ratios: absolute times depend on the machine and its load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quick="${1:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ocibundle-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDTERMINALLOGGER=off
export OCIBUNDLE_BENCH_WORK="$work"  # the bench's digest cache goes there, and with it

# The sample, copied beside itself (samples/Directory.Build.* still bring the in-tree SDK): the bench changes the
# copy's Program.cs and publishes there, never touching the tracked sample, so it may run beside the tests (.ci/run
# runs it so; ReadmeTests copies the repository's files meanwhile).
copy="$root/samples/.bench-${work##*/}"
sample="$copy/HelloBundle"
trap 'rm -rf "$work" "$copy"' EXIT
mkdir -p "$sample"
cp "$root/samples/HelloBundle/HelloBundle.csproj" "$root/samples/HelloBundle/Program.cs" "$sample/"

dotnet build "$root/build/OciBundle.Bench" -c Release -nologo -v:q -clp:NoSummary >/dev/null
# The input: the sample, published self-contained (about 80 MB in 190 files, 20 of them ELF).
dotnet publish "$sample" -c Release -r linux-x64 --self-contained -o "$work/publish" -nologo -v:q -clp:NoSummary >/dev/null

dotnet "$root/build/OciBundle.Bench/bin/Release/net10.0/OciBundle.Bench.dll" "$work/publish" HelloBundle "$work/bench" $quick

# A publish with nothing changed, through MSBuild: time spent in the bundle step's targets, and files written.
dotnet publish "$sample" -c Release -p:PublishOciBundle=true -nologo -v:q -clp:NoSummary >/dev/null
bundle="$sample/bin/Release/net10.0/linux-x64/oci-bundle"
touch "$work/marker"
sleep 1
noop_start=$(date +%s%N)
summary="$(dotnet publish "$sample" -c Release -p:PublishOciBundle=true -nologo -v:q -clp:PerformanceSummary)"
noop_total=$(( ($(date +%s%N) - noop_start) / 1000000 ))
# Target lines look like "       12 ms  ComputeOciBundleInputs                     1 calls". The sample-only target that
# builds the in-tree task (_OciBundleSampleBuildTasks) is not part of the product and is left out.
targets="$(printf '%s\n' "$summary" | awk '/Target Performance Summary/{t=1} /Task Performance Summary/{t=0} t')"
ms="$(printf '%s\n' "$targets" | awk '$3 ~ /^(_OciBundle|PublishOciBundle|ComputeOciBundleInputs)/ && $3 !~ /^_OciBundleSample/ {s+=$1} END {printf "%d", s}')"
written="$(find "$bundle" -newer "$work/marker" | wc -l)"
met=$([ "$ms" -lt 100 ] && [ "$written" -eq 0 ] && echo yes || echo NO)
echo
echo "| measure | OciBundle | baseline | ratio | target | met |"
echo "|---|---|---|---|---|---|"
echo "| no-op publish: bundle step's targets, files written | ${ms} ms, ${written} files | ${noop_total} ms (the whole dotnet publish) | $(awk -v a="$ms" -v b="$noop_total" 'BEGIN {printf "%.2fx", a / b}') | < 100 ms, 0 files | ${met} |"

# The inner loop: a one-line app change, published with PublishOciImage=true. Time in this SDK's targets (the bundle
# step and the image) vs the whole publish, the compiler included.
program="$sample/Program.cs"
dotnet publish "$sample" -c Release -p:PublishOciImage=true -nologo -v:q -clp:NoSummary >/dev/null
printf '\n// bench %s\nConsole.WriteLine("changed %s");\n' "$(date +%s%N)" "$(date +%s%N)" >> "$program"
start=$(date +%s%N)
summary="$(dotnet publish "$sample" -c Release -p:PublishOciImage=true -nologo -v:q -clp:PerformanceSummary)"
total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
targets="$(printf '%s\n' "$summary" | awk '/Target Performance Summary/{t=1} /Task Performance Summary/{t=0} t')"
ours="$(printf '%s\n' "$targets" | awk '$3 ~ /^(_OciBundle|PublishOciBundle|ComputeOciBundleInputs|_OciImage)/ && $3 !~ /^_OciBundleSample/ {s+=$1} END {printf "%d", s}')"
compile="$(printf '%s\n' "$targets" | awk '$3 == "CoreCompile" {s+=$1} END {printf "%d", s}')"
share=$(( 100 * ours / total_ms ))
met=$([ "$ours" -lt "$compile" ] && echo yes || echo NO)
echo "| inner loop: app change with PublishOciImage=true, this SDK's targets vs the compiler (CoreCompile), of the whole publish | ${ours} ms (${share}%) | ${compile} ms (CoreCompile), ${total_ms} ms (whole publish) | - | less than the compiler | ${met} |"

# What the user waits for: this SDK's tasks inside real publishes, the precompiled task beside the IL one (full run only).
if [ "$quick" != --quick ]; then
  "$root/build/bench-publish.sh" 3
  # What a push sends after a change, this SDK's layers beside PublishContainer's (a table of its own).
  if command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v jq >/dev/null; then
    "$root/build/bench-layers.sh"
  else
    echo; echo "(build/bench-layers.sh not run: it needs docker-registry, skopeo and jq)"
  fi
fi
