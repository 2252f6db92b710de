#!/bin/sh
# debdeps.sh BINARY: the Debian Depends entries for BINARY's shared
# libraries, one "package (>= version)" per line. Each NEEDED soname is
# looked up in the shlibs files of the packages installed on this machine
# (Debian package names and shlibs are the same on every architecture of a
# release, and `make deps` installs OpenCV's runtime libraries here), so it
# works for an arm64 binary built on an amd64 host of the same release.
# The cross toolchain's own *-cross packages (libc6:arm64 ...) are skipped.
set -eu
bin=$1
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "debdeps: $bin has no NEEDED entries (static?)" >&2; exit 1; }
for so in $needed; do
	# libopencv_core.so.406 -> name libopencv_core, version 406
	name=${so%%.so.*}
	ver=${so#*.so.}
	line=$(ls /var/lib/dpkg/info/*.shlibs | grep -v -- "-cross[.:]" | xargs cat | awk -v n="$name" -v v="$ver" '$1 == n && $2 == v && $3 !~ /^udeb:/ && $3 !~ /:/ { $1 = ""; $2 = ""; sub(/^ +/, ""); if (!d) print; d = 1 }')
	if [ -z "$line" ]; then
		echo "debdeps: no installed package declares $so in its shlibs (install its runtime package here, e.g. make deps)" >&2
		exit 1
	fi
	echo "$line"
done | sort -u
