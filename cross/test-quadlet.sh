#!/bin/sh
# test-quadlet.sh: packaging/container/edged.container through Podman's
# own Quadlet generator ($QUADLET, podman 4.9.5's, built from the Go module
# proxy by `make test-quadlet`: Debian 12's podman 4.3 has no Quadlet),
# which refuses unknown keys; the service it generates must then pass
# systemd-analyze verify.
set -eu
quadlet=${QUADLET:?QUADLET=path of the quadlet generator}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/in" "$dir/out"
cp packaging/container/edged.container "$dir/in/"
QUADLET_UNIT_DIRS="$dir/in" "$quadlet" -v -no-kmsg-log "$dir/out" 2>&1
[ -s "$dir/out/edged.service" ] || { echo "FAIL: quadlet generated no edged.service" >&2; exit 1; }
grep -q '^Type=notify' "$dir/out/edged.service" || { echo "FAIL: the service is not Type=notify" >&2; exit 1; }
grep -q -- '--sdnotify=container' "$dir/out/edged.service" || { echo "FAIL: podman does not pass NOTIFY_SOCKET" >&2; exit 1; }
# Quadlet leaves its own [X-Container] group in, which systemd ignores.
systemd-analyze verify "$dir/out/edged.service"
echo "ok: edged.container generates a valid edged.service"
