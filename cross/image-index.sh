#!/bin/sh
# image-index.sh: the multi-arch index of the amd64 and arm64 images that
# cross/image.sh left in the project's podman storage, written as one OCI
# archive: dist/edged_<version>-image-multiarch.tar. `podman load` or
# `skopeo copy oci-archive:… docker://registry/…` hand it on; a runtime
# then picks the host's architecture.
#
# The index is OCI, and the OCI image configuration has no health check:
# the HEALTHCHECK of the per-architecture docker-archives is not carried,
# so give it at run time (--health-cmd "/usr/bin/edged healthcheck", or
# the compose file's healthcheck).
set -eu
version=${VERSION:?VERSION=the package version}
[ "$(id -u)" = 0 ] || { echo "image-index: needs root"; exit 1; }
. cross/podman-env.sh
tv=$(printf '%s' "$version" | sed 's/[^A-Za-z0-9_.-]/-/g')
list=localhost/edged:$tv
pm manifest rm "$list" >/dev/null 2>&1 || true
pm manifest create "$list" >/dev/null
for arch in amd64 arm64; do
	pm image exists "localhost/edged:$tv-$arch" || { echo "image-index: no $arch image $tv (make image ARCH=$arch)" >&2; exit 1; }
	pm manifest add "$list" "containers-storage:localhost/edged:$tv-$arch" >/dev/null
done
out=dist/edged_${version}-image-multiarch.tar
rm -f "$out"
pm manifest push --quiet --all --format oci "$list" "oci-archive:$out:$tv"
pm manifest inspect "$list" | python3 -c '
import json, sys
print("index:", ", ".join("%s/%s" % (m["platform"]["os"], m["platform"]["architecture"]) for m in json.load(sys.stdin)["manifests"]))'
ls -l "$out"
