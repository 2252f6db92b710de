#!/bin/sh
# check-fresh.sh: the README's two commands, `make demo` and `make test`, on
# a fresh Debian 12 root instead of this machine's accumulated state.
#
# The root is mmdebstrap's minbase variant of bookworm plus what the README
# assumes a new machine has: git, make, ca-certificates and the Go
# toolchain (this machine's, copied in). Nothing else of this machine goes
# in: no Go module cache, no pip or npm cache, no wheels folder, no
# third_party/. What a new machine of this site has all the same is carried
# over: the apt sources and the apt settings no package owns, the local
# trust anchors, /etc/pip.conf and the environment variables that name a
# proxy or a CA bundle.
#
# A clean clone of the committed HEAD goes to /src/edged in the root. Both
# commands run there as root, with the root pivoted to in new mount and PID
# namespaces (every mount and process goes when the run ends), with
# CI=true for `make test` as .ci/run sets it, so tests that would skip for
# a missing part fail instead. binfmt_misc is the kernel's, shared, so the
# arm64 package test runs there too.
#
# Output in $FRESH_DIR (default build/check-fresh): demo.log, test.log,
# gained.txt (every package the root gained through the project's install
# step) and report.txt (the times). The root ($FRESH_ROOT, default
# /var/tmp/edged-fresh-root, some 15 GB) is removed after a pass and kept
# after a failure (FRESH_KEEP=1 keeps it always).
set -eu

[ "$(id -u)" = 0 ] || { echo "check-fresh: needs root (mmdebstrap, chroot, mount)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "check-fresh: mmdebstrap is missing: make deps-fresh" >&2; exit 1; }
src=$(git rev-parse --show-toplevel)
out=${FRESH_DIR:-$src/build/check-fresh}
goroot=$(GOTOOLCHAIN=local go env GOROOT)
[ -x "$goroot/bin/go" ] || { echo "check-fresh: no Go toolchain at $goroot" >&2; exit 1; }
# The root lies outside the checkout, so that this checkout's `go ... ./...`
# never walks into its Go sources and module cache.
root=${FRESH_ROOT:-/var/tmp/edged-fresh-root}

if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
	echo "check-fresh: uncommitted changes are not tested: the root gets a clone of HEAD ($(git -C "$src" rev-parse --short HEAD))" >&2
fi

rm -rf "$out" "$root"
mkdir -p "$out"
report=$out/report.txt
: > "$report"
stamp() { echo "$*" | tee -a "$report"; }

# The site's apt settings: sources, and configuration files no package owns.
set --
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -s "$f" ] && grep -qv '^[[:space:]]*\(#\|$\)' "$f" && set -- "$@" "$f"
done
aptopts=$out/apt-site.conf
: > "$aptopts"
for f in /etc/apt/apt.conf.d/*; do
	[ -f "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1 && cat "$f" >> "$aptopts"
done

t0=$(date +%s)
mmdebstrap --quiet --variant=minbase --include=git,make,ca-certificates \
	--aptopt="$aptopts" bookworm "$root" "$@"
stamp "root: bookworm minbase + git, make, ca-certificates in $(( $(date +%s) - t0 )) s"

# Trust anchors and pip's site settings, as a new machine here has them.
if [ -d /usr/local/share/ca-certificates ]; then
	cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
	chroot "$root" update-ca-certificates >/dev/null
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"
cp -a "$goroot" "$root/usr/local/go"
stamp "go: $(GOTOOLCHAIN=local "$goroot/bin/go" version) from $goroot"
git clone --quiet --no-hardlinks "$src" "$root/src/edged"
stamp "source: $(git -C "$root/src/edged" log -1 --format='%h %s')"
chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$out/before.txt"

# The environment: a clean one, plus the variables that name a proxy or a
# CA bundle (never a cache such as PIP_FIND_LINKS).
envfile=$out/env
{
	echo "HOME=/root"
	echo "PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "LANG=C.UTF-8"
	echo "TERM=dumb"
	for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
		PIP_CERT SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS \
		GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE; do
		eval "val=\${$v:-}"
		[ -n "$val" ] && echo "$v=$val"
	done
} > "$envfile"

# in_root LOG CMD: CMD in the root's /src/edged, in fresh mount and PID
# namespaces, output to LOG and to this terminal.
in_root() {
	log=$1
	shift
	{ unshare --mount --pid --fork --kill-child sh -c '
		set -e
		root=$1 envfile=$2
		shift 2
		mount --make-rprivate /
		mount --bind "$root" "$root"
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		mount --rbind /dev "$root/dev"
		envs=$(cat "$envfile")
		# pivot_root rather than chroot: the root is then the mount
		# namespace'"'"'s own, as on a real machine. In a chroot, podman cannot
		# make / private when it applies a layer, and runc exec (the
		# container health check) finds the chroot, not the container.
		cd "$root"
		mkdir -p .oldroot
		pivot_root . .oldroot
		exec env -i $envs sh -c "umount -l /.oldroot && cd /src/edged && $*"
	' in_root "$root" "$envfile" "$@" && echo 0 > "$out/rc" || echo $? > "$out/rc"; } 2>&1 | tee "$log"
	return "$(cat "$out/rc")"
}

status=0
t0=$(date +%s)
if in_root "$out/demo.log" 'make demo'; then
	missing=""
	for want in "space shuttle" orange "Granny Smith" baboon monarch "fox squirrel"; do
		grep -q "\"label\":\"$want\"" "$out/demo.log" || missing="$missing '$want'"
	done
	if [ -n "$missing" ]; then
		stamp "make demo: FAIL: no result labelled$missing ($(( $(date +%s) - t0 )) s)"
		status=1
	else
		stamp "make demo: ok, all six photos of the demo video recognised, in $(( $(date +%s) - t0 )) s"
	fi
else
	rc=$?
	stamp "make demo: FAIL (exit $rc) after $(( $(date +%s) - t0 )) s: $out/demo.log"
	status=1
fi

t0=$(date +%s)
if in_root "$out/test.log" 'CI=true make test'; then
	stamp "make test: ok in $(( $(date +%s) - t0 )) s"
else
	rc=$?
	stamp "make test: FAIL (exit $rc) after $(( $(date +%s) - t0 )) s: $out/test.log"
	status=1
fi

chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$out/after.txt"
comm -13 "$out/before.txt" "$out/after.txt" > "$out/gained.txt"
stamp "packages gained through the install step: $(wc -l < "$out/gained.txt") (list: $out/gained.txt)"
stamp "root size: $(du -sh "$root" | cut -f1)"

if [ "$status" = 0 ] && [ "${FRESH_KEEP:-0}" != 1 ]; then
	rm -rf "$root"
fi
echo "check-fresh: $( [ "$status" = 0 ] && echo passed || echo FAILED ); report: $report"
exit "$status"
