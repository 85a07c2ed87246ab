#!/usr/bin/env bash
# The performance benchmark: the bundle step next to its baselines, in one run, with ratios.
#   build/bench.sh           full run (about two minutes; needs ~3 GB free in $TMPDIR)
#   build/bench.sh --quick   smaller synthetic tree, fewer repetitions (what CI may run; it never fails on timings)
# Baselines: cp -a of the finished bundle; lddtree --copy-to-tree + runc spec (Debian pax-utils, python3-pyelftools,
# runc) when installed. Quote the ratios: absolute times depend on the machine and its load.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quick="${1:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/ocibundle-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDTERMINALLOGGER=off
export OCIBUNDLE_BENCH_WORK="$work"  # the bench's digest cache goes there, and with it

dotnet build "$root/build/OciBundle.Bench" -c Release -nologo -v:q -clp:NoSummary >/dev/null
# The input: the sample, published self-contained (about 80 MB in 190 files, 20 of them ELF).
dotnet publish "$root/samples/HelloBundle" -c Release -r linux-x64 --self-contained -o "$work/publish" -nologo -v:q -clp:NoSummary >/dev/null

dotnet "$root/build/OciBundle.Bench/bin/Release/net10.0/OciBundle.Bench.dll" "$work/publish" HelloBundle "$work/bench" $quick

# A publish with nothing changed, through MSBuild: time spent in the bundle step's targets, and files written.
sample="$root/samples/HelloBundle"
dotnet publish "$sample" -c Release -p:PublishOciBundle=true -nologo -v:q -clp:NoSummary >/dev/null
bundle="$sample/bin/Release/net10.0/linux-x64/oci-bundle"
touch "$work/marker"
sleep 1
summary="$(dotnet publish "$sample" -c Release -p:PublishOciBundle=true -nologo -v:q -clp:PerformanceSummary)"
# Target lines look like "       12 ms  ComputeOciBundleInputs                     1 calls". The sample-only target that
# builds the in-tree task (_OciBundleSampleBuildTasks) is not part of the product and is left out.
targets="$(printf '%s\n' "$summary" | awk '/Target Performance Summary/{t=1} /Task Performance Summary/{t=0} t')"
ms="$(printf '%s\n' "$targets" | awk '$3 ~ /^(_OciBundle|PublishOciBundle|ComputeOciBundleInputs)/ && $3 !~ /^_OciBundleSample/ {s+=$1} END {printf "%d", s}')"
publish_ms="$(printf '%s\n' "$targets" | awk '$3 == "Publish" {print int($1)}' | tail -1)"
written="$(find "$bundle" -newer "$work/marker" | wc -l)"
met=$([ "$ms" -lt 100 ] && [ "$written" -eq 0 ] && echo yes || echo NO)
echo
echo "| measure | OciBundle | baseline | ratio | target | met |"
echo "|---|---|---|---|---|---|"
echo "| no-op publish: bundle step's targets, files written | ${ms} ms, ${written} files | ${publish_ms:-?} ms (whole Publish target) | - | < 100 ms, 0 files | ${met} |"
