#!/usr/bin/env bash
# Builds the lab's Kubernetes binaries once per machine and caches them by
# version in ${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}/kube/<version>/:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#     from k8s.io/kubernetes (module tools/kube, kept apart from the product's go.mod)
#   etcd
#     go.etcd.io/etcd/server/v3 at the version Kubernetes pins (tools/kube/etcd;
#     Debian's etcd 3.4 lacks the watch progress notifications apiserver 1.37 needs)
#   kwok
#     from sigs.k8s.io/kwok (module tools/kwok, it pins its own k8s.io/* versions)
# plus kwok's stage configs in stages/.
#
# Non-interactive (safe with CI=true and no stdin). Skips when the cached
# binaries match the pinned versions and the tools modules. The first build
# takes about 7 minutes on 2 cores (measured 7m03s) and needs ~6 GB of disk (Go build and
# module caches); later runs take a second.
#
# Environment:
#   SWITCHYARD_CACHE   cache root (default $HOME/.cache/switchyard)
#   KUBE_BUILD_FORCE=1 rebuild even when the cache matches
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

KUBE_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
cache_root="${SWITCHYARD_CACHE:-$HOME/.cache/switchyard}"
out="$cache_root/kube/$KUBE_VERSION"
stamp="$out/.build-stamp"

export GOWORK=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

log() { echo "build-kube: $*"; }
die() { echo "build-kube: ERROR: $*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH; install Go $(sed -n 's/^go //p' go.mod) first"

# name | module dir | package | expected cold time on 2 cores (seconds)
targets=(
  "kube-apiserver|tools/kube|k8s.io/kubernetes/cmd/kube-apiserver|240"
  "kube-controller-manager|tools/kube|k8s.io/kubernetes/cmd/kube-controller-manager|105"
  "kube-scheduler|tools/kube|k8s.io/kubernetes/cmd/kube-scheduler|10"
  "kubectl|tools/kube|k8s.io/kubernetes/cmd/kubectl|20"
  "etcd|tools/kube|./etcd|60"
  "kwok|tools/kwok|sigs.k8s.io/kwok/cmd/kwok|80"
)

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kube_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  kube_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
kwok_ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"

# The stamp records everything that decides the binaries' content.
want_stamp() {
  {
    echo "kube=$KUBE_VERSION kwok=$KWOK_VERSION"
    go version
    echo "kube_ldflags=$kube_ldflags"
    echo "kwok_ldflags=$kwok_ldflags"
    cat tools/kube/go.mod tools/kube/go.sum tools/kube/etcd/main.go tools/kwok/go.mod tools/kwok/go.sum
  } | sha256sum | cut -d' ' -f1
}

cached_ok() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$1" ] || return 1
  local t name
  for t in "${targets[@]}"; do
    name=${t%%|*}
    [ -x "$out/$name" ] || return 1
  done
  [ -f "$out/stages/node-initialize.yaml" ] || return 1
  "$out/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes $KUBE_VERSION" || return 1
}

mkdir -p "$out"
# One build at a time per cache dir (CI, make deps and tests may race).
exec 9>"$out/.lock"
if command -v flock >/dev/null; then
  if ! flock -n 9; then
    log "another build-kube is running on $out; waiting for it"
    flock 9
  fi
fi

want=$(want_stamp)
if [ "${KUBE_BUILD_FORCE:-}" != 1 ] && cached_ok "$want"; then
  log "cached Kubernetes $KUBE_VERSION, etcd and kwok $KWOK_VERSION binaries in $out are up to date"
  exit 0
fi

avail_kb=$(df -Pk "$(go env GOCACHE | xargs dirname)" 2>/dev/null | awk 'NR==2{print $4}' || true)
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((6 * 1024 * 1024)) ]; then
  log "warning: only $((avail_kb / 1024)) MiB free for the Go build cache; the first build needs ~6 GB"
fi
total=0
for t in "${targets[@]}"; do total=$((total + ${t##*|})); done
log "building Kubernetes $KUBE_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl), etcd and kwok $KWOK_VERSION into $out"
log "a cold build takes about $((total / 60)) minutes on 2 cores (longer on a busy machine; seconds when the Go build cache is warm) and needs ~6 GB of disk"

# Prints a progress line every 30 s while a build runs.
ticker() {
  local name=$1 expect=$2 start=$3
  while sleep 30; do
    local el=$(($(date +%s) - start))
    log "  ... $name still building: ${el}s elapsed (cold build about ${expect}s)"
  done
}

all_start=$(date +%s)
i=0
for t in "${targets[@]}"; do
  i=$((i + 1))
  IFS='|' read -r name dir pkg expect <<<"$t"
  case $dir in
    tools/kube) ldflags=$kube_ldflags ;;
    *) ldflags=$kwok_ldflags ;;
  esac
  start=$(date +%s)
  log "[$i/${#targets[@]}] $name ($pkg) ..."
  ticker "$name" "$expect" "$start" &
  tick=$!
  errlog=$(mktemp)
  if ! (cd "$root/$dir" && go build -ldflags "$ldflags" -o "$out/.$name.tmp" "$pkg") </dev/null 2>"$errlog"; then
    kill "$tick" 2>/dev/null || true
    wait "$tick" 2>/dev/null || true
    cat "$errlog" >&2
    rm -f "$errlog" "$out/.$name.tmp" "$stamp"
    die "building $name ($pkg in $dir) failed; see the compiler output above"
  fi
  kill "$tick" 2>/dev/null || true
  wait "$tick" 2>/dev/null || true
  cat "$errlog" >&2
  rm -f "$errlog"
  mv -f "$out/.$name.tmp" "$out/$name"
  log "[$i/${#targets[@]}] $name built in $(($(date +%s) - start))s"
done

# kwok's stage configs ship in its module; the lab passes them to kwok.
kwok_dir=$(cd tools/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
[ -n "$kwok_dir" ] && [ -d "$kwok_dir/kustomize/stage" ] || die "kwok stage configs not found in the sigs.k8s.io/kwok module ($kwok_dir)"
rm -rf "$out/stages"
mkdir -p "$out/stages"
for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  src="$kwok_dir/kustomize/stage/$s.yaml"
  [ -f "$src" ] || die "kwok stage config $s.yaml missing from $kwok_dir/kustomize/stage"
  cp "$src" "$out/stages/$(basename "$s").yaml"
done
chmod -R u+w "$out/stages"

"$out/kube-apiserver" --version | grep -qx "Kubernetes $KUBE_VERSION" ||
  die "kube-apiserver reports '$("$out/kube-apiserver" --version)', want 'Kubernetes $KUBE_VERSION' (version ldflags)"
echo "$want" >"$stamp"
log "done in $(($(date +%s) - all_start))s: $(cd "$out" && ls kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok | tr '\n' ' ')"
