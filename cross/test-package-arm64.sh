#!/bin/sh
# test-package-arm64.sh: the arm64 .deb ($DEB) installs with dpkg into a
# Debian bookworm arm64 userland (mmdebstrap minbase) run under qemu-user
# through binfmt_misc, its default config passes check-config as the edged
# user, and the installed edged classifies samples/demo.avi with the
# packaged default model and publishes to a mosquitto on the host's
# loopback (the chroot shares the host's network). The host subscribes and
# checks that the demo video's six known classes arrived as top-1 labels.
#
# The userland with the package's dependencies already installed is cached
# as build/pkgtest/rootfs-arm64-<key>.tar.gz, the key a hash of the
# Depends and Recommends package names (cross/userland.sh, shared with the
# container image): a re-run only unpacks it.
set -eu

deb=${DEB:?DEB=path of the arm64 .deb}
[ "$(id -u)" = 0 ] || { echo "test-package-arm64: needs root (chroot, mount)"; exit 1; }
. cross/binfmt.sh
need_binfmt arm64 test-package-arm64

cache=build/pkgtest
mkdir -p "$cache"
. cross/userland.sh
pkgs=$(userland_packages "$deb")
[ -n "$pkgs" ] || { echo "test-package-arm64: no Depends read from $deb" >&2; exit 1; }
key=$(printf 'bookworm minbase arm64 %s\n' "$pkgs" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-arm64-$key.tar.gz
if [ ! -f "$tarball" ]; then
	echo "building the arm64 userland ($pkgs) into $tarball"
	start=$(date +%s)
	mmdebstrap --quiet --variant=minbase --architectures=arm64 --include="$pkgs" bookworm "$tarball.tmp.tar.gz"
	mv "$tarball.tmp.tar.gz" "$tarball"
	echo "arm64 userland built in $(( $(date +%s) - start )) s"
fi

root=$(mktemp -d "$cache/root.XXXXXX")
sub=""
cleanup() {
	[ -n "$sub" ] && kill "$sub" 2>/dev/null || true
	[ -n "${broker:-}" ] && kill "$broker" 2>/dev/null || true
	umount "$root/proc" 2>/dev/null || true
	umount "$root/dev" 2>/dev/null || true
	umount "$root/sys" 2>/dev/null || true
	rm -rf "$root"
}
trap cleanup EXIT INT TERM
tar -xzf "$tarball" -C "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /sys "$root/sys"   # TFLite's cpuinfo reads the processor lists

cp "$deb" "$root/tmp/edged.deb"
cp samples/demo.avi "$root/tmp/demo.avi"
chmod 0644 "$root/tmp/demo.avi"
chroot "$root" dpkg -i /tmp/edged.deb
chroot "$root" dpkg -s edged | grep -q '^Status: install ok installed'
id=$(chroot "$root" id edged)
echo "user: $id"
case "$id" in *"(video)"*) ;; *) echo "FAIL: edged is not in the video group"; exit 1;; esac
[ "$(chroot "$root" stat -c %U:%a /var/lib/edged)" = edged:700 ] || { echo "FAIL: /var/lib/edged"; exit 1; }
[ -L "$root/etc/systemd/system/multi-user.target.wants/edged.service" ] || { echo "FAIL: edged.service not enabled"; exit 1; }
chroot --userspec=edged:edged "$root" /usr/bin/edged check-config --config /etc/edged/edged.yaml
chroot "$root" /usr/bin/edged version

# mosquitto on the host's loopback, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf=$root/../mosquitto-$key.conf
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_type error\n' "$port" > "$conf"
mosquitto -c "$conf" & broker=$!
for _ in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	sleep 0.2
done
out=$root/../results.$$
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'edged/pkgtest/demo/result' -v -C 30 > "$out" & sub=$!
sleep 1

echo "edged (arm64, emulated) classifying demo.avi -> tcp://127.0.0.1:$port"
start=$(date +%s)
chroot --userspec=edged:edged "$root" env HOME=/var/lib/edged /usr/bin/edged run \
	--source /tmp/demo.avi --resize center-crop --device pkgtest --camera demo \
	--broker "tcp://127.0.0.1:$port" --log-level warn
echo "edged ran for $(( $(date +%s) - start )) s"
# Every result is handed to the broker before edged exits; give the
# subscriber a moment, then stop it.
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$sub" 2>/dev/null || break; sleep 1; done
kill "$sub" 2>/dev/null || true
sub=""
rm -f "$conf"

python3 - "$out" <<'PY'
import json, sys, collections
top = collections.Counter()
n = 0
for line in open(sys.argv[1]):
    topic, _, body = line.partition(" ")
    if topic != "edged/pkgtest/demo/result":
        continue
    p = json.loads(body)
    n += 1
    top[p["labels"][0]["label"]] += 1
print("results:", n, dict(top))
want = {"space shuttle", "orange", "Granny Smith", "baboon", "monarch", "fox squirrel"}
missing = want - set(top)
if n < 30 or missing:
    sys.exit("FAIL: %d results, missing top-1 classes %s" % (n, sorted(missing)))
print("ok: the arm64 package classified the demo video and published to the host's mosquitto")
PY
rm -f "$out"
