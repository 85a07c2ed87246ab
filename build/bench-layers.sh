#!/usr/bin/env bash
# What a push sends after a change: this SDK's image (OciImageLayering=ByChangeRate, the default) beside the .NET SDK's
# own `dotnet publish -t:PublishContainer` of a plain Microsoft.NET.Sdk copy of the same app (LayeringTests' EF Core +
# SQLite + Newtonsoft.Json sample: same sources, same packages), in one run, to one loopback docker-registry.
# PublishContainer twice: self-contained for linux-x64 (the publish this SDK makes) on a runtime-deps-like base, and
# framework-dependent on a runtime-like base (its usual form); both bases are made here from a Debian 12 root (and
# this machine's .NET runtime) and pushed with skopeo first. Pushes: the first, after a one-line change of
# Program.cs, after Newtonsoft.Json 13.0.3 -> 13.0.4. The bytes are the sizes of the blobs the registry took an upload
# of (the PUTs that end an upload, from its JSON log), as LayeringTests reads them; manifests are not counted, nor
# blobs mounted from another repository or found there. build/bench.sh runs it (not with --quick); alone:
#   build/bench-layers.sh        (three to five minutes)
# Needs docker-registry, skopeo, jq, and a Debian 12 root: the tests' cached sysroot (/var/cache/ocibundle-tests/
# sysroots, what SysrootTests makes), else mmdebstrap makes one (as root, from a mirror).
# Prints one table, and whether the pushed images run under podman. Bytes do not depend on the machine or its load
# (PublishContainer's layers are not reproducible: its sizes move by a few hundred bytes between runs). The registry
# is stopped by its pid; the work folder removed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for tool in docker-registry skopeo jq gzip; do
  command -v "$tool" >/dev/null || { echo "bench-layers.sh needs $tool" >&2; exit 1; }
done
work="$(mktemp -d "${TMPDIR:-/tmp}/ocibundle-bench-layers-XXXXXX")"
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDTERMINALLOGGER=off MSBUILDDISABLENODEREUSE=1
efcore=10.0.15

# The registry: distribution's filesystem driver in the work folder, 127.0.0.1 and a free port, a JSON log.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
host="127.0.0.1:$port"
storage="$work/registry"
log="$work/registry.log"
mkdir -p "$storage"
cat > "$work/registry.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: json
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $storage
http:
  addr: $host
  secret: bench-secret
EOF
docker-registry serve "$work/registry.yml" > "$log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$registry_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

# requests: the registry's answered requests so far, once its log has settled (it writes a line after answering).
requests() {
  local last=-1 now
  while :; do
    now="$(grep -c '"response completed' "$log" || true)"
    [ "$now" = "$last" ] && break
    last="$now"; sleep 0.5
  done
  echo "$now"
}
# uploaded_since SINCE: "BYTES BLOBS" of the blobs uploaded after the first SINCE answered requests (the PUT that ends
# an upload names the digest; the size is the stored blob's).
uploaded_since() {
  local since="$1"
  jq -R -r 'fromjson? | select(.msg != null and (.msg | startswith("response completed")))
      | [."http.request.method", ."http.request.uri"] | @tsv' "$log" | tail -n +"$((since + 1))" \
    | awk -F'\t' '$1 == "PUT" && $2 ~ /\/blobs\/uploads\// {print $2}' \
    | sed -n 's/.*digest=sha256\(:\|%3A\|%3a\)\([0-9a-f]\{64\}\).*/\2/p' \
    | { bytes=0; blobs=0; while read -r d; do bytes=$((bytes + $(stat -c %s "$storage/docker/registry/v2/blobs/sha256/${d:0:2}/$d/data"))); blobs=$((blobs + 1)); done; echo "$bytes $blobs"; }
}

# PublishContainer's bases, as Microsoft's runtime-deps and runtime images are made: a Debian 12 root with what a .NET
# app needs (one gzip layer), and the same with this machine's .NET runtime in /usr/share/dotnet on top (a second
# layer). Written as OCI layouts and pushed with skopeo before any measure.
pkgs="libstdc++6,libicu72,libssl3,zlib1g,tzdata,ca-certificates"
rootfs="$(ls /var/cache/ocibundle-tests/sysroots/bookworm-amd64-essential-*.tar 2>/dev/null | head -n 1 || true)"
if [ -z "$rootfs" ]; then
  rootfs="$work/bookworm.tar"
  mmdebstrap --variant=essential --architectures=amd64 --include="$pkgs" --format=tar \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' bookworm "$rootfs" >/dev/null 2>&1
fi
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" && $2 ~ /^10\./ {v = $2} END {print v}')"
mkdir -p "$work/rt/usr/bin"
ln -s /usr/share/dotnet/dotnet "$work/rt/usr/bin/dotnet"
tar_opts=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)
tar "${tar_opts[@]}" -C "$work/rt" -cf "$work/runtime.tar" usr/bin/dotnet
tar "${tar_opts[@]}" -C "$dotnet_root" --transform 's,^,usr/share/dotnet/,' -rf "$work/runtime.tar" dotnet host "shared/Microsoft.NETCore.App/$runtime"
# image REPOSITORY:TAG ENV TAR...: an OCI layout of gzip layers (one a tar), pushed to the registry; prints the bytes of its layers.
image() {
  local name="$1" env="$2" layout diff_ids="" layers="" total=0 t d size repository="${1%%:*}"
  layout="$work/layout-${repository//\//-}"
  shift 2
  mkdir -p "$layout/blobs/sha256"
  put() { d="$(sha256sum "$1" | cut -c1-64)"; size="$(stat -c %s "$1")"; mv "$1" "$layout/blobs/sha256/$d"; }
  for t in "$@"; do
    diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum "$t" | cut -c1-64)\""
    gzip -6 -n -c "$t" > "$work/layer.gz"; put "$work/layer.gz"; total=$((total + size))
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$size}"
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Env":[%s]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$env" "$diff_ids" > "$work/config.json"
  put "$work/config.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$d" "$size" "$layers" > "$work/manifest.json"
  put "$work/manifest.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$d" "$size" "${name#*:}" > "$layout/index.json"
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$layout:${name#*:}" "docker://$host/$name" >/dev/null
  echo "$total"
}
path='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
deps_bytes="$(image base/runtime-deps:10.0 "$path" "$rootfs")"
runtime_bytes="$(image base/runtime:10.0 "$path,\"DOTNET_VERSION=$runtime\"" "$rootfs" "$work/runtime.tar")"
base_blobs_pushed="$(requests)"

# The app, twice: with this SDK (from the tree, as the samples use it) and as a plain Microsoft.NET.Sdk project.
program() {  # the app LayeringTests publishes too, printing version $1
  sed "s/SHOP_VERSION/$1/" "$root/tests/OciBundle.EndToEnd.Tests/Apps/Shop.cs"
}
project() {
  cat <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>$1
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.EntityFrameworkCore.Sqlite" Version="$efcore" />
    <PackageReference Include="Newtonsoft.Json" Version="13.0.3" />
  </ItemGroup>
</Project>
EOF
}
mkdir -p "$work/oci/Shop" "$work/sc/Shop" "$work/fd/Shop"
cat > "$work/oci/Directory.Build.props" <<EOF
<Project>
  <PropertyGroup><_OciBundleAsSdk>true</_OciBundleAsSdk></PropertyGroup>
  <Import Project="$root/sdk/build/OciBundle.Sdk.props" />
</Project>
EOF
cat > "$work/oci/Directory.Build.targets" <<EOF
<Project>
  <PropertyGroup><OciBundleTasksAssembly>$root/src/OciBundle.Tasks/bin/Release/net8.0/OciBundle.Tasks.dll</OciBundleTasksAssembly></PropertyGroup>
  <Import Project="$root/sdk/build/OciBundle.Sdk.targets" />
</Project>
EOF
# PublishContainer twice: the same publish as this SDK's (self-contained for linux-x64) on runtime-deps, and the usual
# framework-dependent one on runtime (what `dotnet publish -t:PublishContainer` picks for an app as it comes).
project "" > "$work/oci/Shop/Shop.csproj"
project $'\n    <RuntimeIdentifier>linux-x64</RuntimeIdentifier>\n    <SelfContained>true</SelfContained>' > "$work/sc/Shop/Shop.csproj"
project $'\n    <RuntimeIdentifier>linux-x64</RuntimeIdentifier>\n    <SelfContained>false</SelfContained>' > "$work/fd/Shop/Shop.csproj"
dotnet build "$root/src/OciBundle.Tasks" -c Release -nologo -v:q -clp:NoSummary >/dev/null

push_oci() {
  dotnet publish "$work/oci/Shop" -c Release -nologo -v:q -clp:NoSummary -p:PublishOciImage=true -p:OciImageRegistry="$host" \
    -p:OciImageInsecureRegistries="$host" -p:OciImageRepository=team/ocibundle -p:OciImageLayering=ByChangeRate -p:OciImageTag=latest >/dev/null
}
# push_pc sc|fd BASE: PublishContainer of one of the plain projects.
push_pc() {
  DOTNET_CONTAINER_INSECURE_REGISTRIES="$host" dotnet publish "$work/$1/Shop" -c Release -nologo -v:q -clp:NoSummary -t:PublishContainer \
    -p:ContainerBaseImage="$host/base/$2" -p:ContainerRegistry="$host" -p:ContainerRepository="team/publishcontainer-$1" -p:ContainerImageTag=latest >/dev/null
}
# measure STEP: pushes the three apps as they are now; sets sent[SIDE_STEP] to "BYTES BLOBS".
declare -A sent
measure() {
  local since
  since="$(requests)"; push_oci; sent[oci_$1]="$(uploaded_since "$since")"
  since="$(requests)"; push_pc sc runtime-deps:10.0; sent[sc_$1]="$(uploaded_since "$since")"
  since="$(requests)"; push_pc fd runtime:10.0; sent[fd_$1]="$(uploaded_since "$since")"
}
sides="oci sc fd"
for side in $sides; do program v1 > "$work/$side/Shop/Program.cs"; done
measure first
for side in $sides; do program v2 > "$work/$side/Shop/Program.cs"; done
measure line
for side in $sides; do sed -i 's/Version="13.0.3"/Version="13.0.4"/' "$work/$side/Shop/Shop.csproj"; done
measure upgrade

# What the registry serves runs (podman, when installed): each image's last line, the app as last changed ("shop v2").
runs() {
  local name="$host/$1:latest" out=""
  command -v podman >/dev/null || { echo "podman not installed"; return; }
  if podman pull -q --tls-verify=false "$name" >/dev/null 2>&1 \
      && out="$(podman run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$name" 2>&1)"; then
    echo "\`$(printf '%s\n' "$out" | tail -n 1)\`"
  else
    echo "did not run: ${out:-pull failed}" | head -c 300
  fi
  podman rmi --force "$name" >/dev/null 2>&1 || true
}
ran_sc="$(runs team/publishcontainer-sc)"; ran_fd="$(runs team/publishcontainer-fd)"; ran_oci="$(runs team/ocibundle)"

# The base layers went to the registry once, before any measure (skopeo's pushes); PublishContainer mounts or finds
# them: the uploads after that which name a base blob (0 when no base layer was sent again).
base_again="$(jq -R -r 'fromjson? | select(.msg != null and (.msg | startswith("response completed")))
  | [."http.request.method", ."http.request.uri"] | @tsv' "$log" | tail -n +"$((base_blobs_pushed + 1))" \
  | awk -F'\t' '$1 == "PUT" && $2 ~ /\/blobs\/uploads\// {print $2}' | grep -c -F -f <(find "$work"/layout-* -path '*/blobs/sha256/*' -type f -printf '%f\n') || true)"
n() { printf '%s' "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }
cell() { set -- ${sent[$1]}; printf '%s bytes (%d blobs)' "$(n "$1")" "$2"; }
ratio() { set -- ${sent[oci_$1]} ${sent[$2_$1]}; awk -v a="$1" -v b="$3" 'BEGIN {printf "%.3fx", a / b}'; }
# The first push again as to an empty registry: PublishContainer's with its base's layers (a push of this SDK's image
# has no base: its system and runtime layers are its own).
sent[sc_empty]="$((${sent[sc_first]% *} + deps_bytes)) $((${sent[sc_first]#* } + 1))"
sent[fd_empty]="$((${sent[fd_first]% *} + runtime_bytes)) $((${sent[fd_first]#* } + 2))"
sent[oci_empty]="${sent[oci_first]}"
echo
echo "| push | PublishContainer, self-contained on runtime-deps | PublishContainer, framework-dependent on runtime | OciBundle ByChangeRate | ratio to the first | ratio to the second |"
echo "|---|---|---|---|---|---|"
for step in first empty line upgrade; do
  case "$step" in
    first) what="first push (PublishContainer's base already in the registry)" ;;
    empty) what="first push, PublishContainer's base layers counted (an empty registry)" ;;
    line) what="one line of Program.cs" ;;
    upgrade) what="Newtonsoft.Json 13.0.3 to 13.0.4" ;;
  esac
  echo "| $what | $(cell sc_$step) | $(cell fd_$step) | $(cell oci_$step) | $(ratio $step sc) | $(ratio $step fd) |"
done
echo "The images as pushed last, run from the registry: PublishContainer self-contained $ran_sc; framework-dependent $ran_fd; OciBundle $ran_oci."
echo "PublishContainer's bases were pushed before with skopeo and are not counted: runtime-deps $(n "$deps_bytes") bytes, runtime $(n "$runtime_bytes") bytes (its layers, .NET $runtime); uploads of a base blob after that: $base_again."
