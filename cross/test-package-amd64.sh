#!/bin/sh
# test-package-amd64.sh: the amd64 .deb ($DEB) and overlay ($ROOTFS) hold
# what the package promises: control fields, conffile, maintainer scripts,
# the files in their places, and an overlay with the same tree and the unit
# enabled. The packaged binary, run from an unpacked copy, finds the
# packaged runtime library and model and accepts the packaged config.
set -eu
deb=${DEB:?}
rootfs=${ROOTFS:?}
fail() { echo "FAIL: $*" >&2; exit 1; }

dpkg-deb -I "$deb"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || fail "Architecture"
deps=$(dpkg-deb -f "$deb" Depends)
for p in libopencv-core406 libopencv-videoio406 libopencv-imgproc406 libc6 adduser procps; do
	echo "$deps" | grep -q "\b$p\b" || fail "Depends lacks $p: $deps"
done
echo "$deps" | grep -q mosquitto && fail "mosquitto must not be a dependency"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$deb" "$tmp/DEBIAN"
grep -qx /etc/edged/edged.yaml "$tmp/DEBIAN/conffiles" || fail "edged.yaml is not a conffile"
for s in postinst prerm postrm; do [ -x "$tmp/DEBIAN/$s" ] || fail "$s"; sh -n "$tmp/DEBIAN/$s"; done
dpkg-deb -c "$deb" > "$tmp/contents"
for f in ./usr/bin/edged ./usr/lib/edged/libtensorflowlite_c.so ./usr/lib/edged/libLiteRt.so ./lib/systemd/system/edged.service \
	./etc/edged/edged.yaml ./usr/share/edged/models/efficientnet_lite0_int8.tflite \
	./usr/share/edged/models/labels.txt ./usr/share/doc/edged/README.md ./usr/share/doc/edged/copyright \
	./usr/lib/sysusers.d/edged.conf; do
	grep -q " $f\$" "$tmp/contents" || fail "$f missing from the .deb"
done
grep -v ' root/root ' "$tmp/contents" && fail "files not owned by root"

# The overlay: the same files, plus the unit enabled.
tar -tzf "$rootfs" | sed 's|/$||' | sort > "$tmp/overlay"
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|/$||' | sort > "$tmp/debfiles"
comm -23 "$tmp/debfiles" "$tmp/overlay" | grep . && fail "the overlay lacks files of the .deb"
grep -qx ./etc/systemd/system/multi-user.target.wants/edged.service "$tmp/overlay" || fail "overlay: unit not enabled"

# Unpacked anywhere, the binary uses its own lib/edged and share/edged.
mkdir "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
"$tmp/x/usr/bin/edged" check-config --config "$tmp/x/etc/edged/edged.yaml"
env -u EDGED_TFLITE_LIB -u EDGED_LITERT_LIB -u EDGED_MODEL_DIR "$tmp/x/usr/bin/edged" run --source samples/demo.avi \
	--resize center-crop --no-mqtt 2>"$tmp/log" | grep -c '"space shuttle"' | grep -qx 5 || fail "the unpacked edged did not classify the demo video"
# engine auto finds the packaged LiteRT beside the binary.
grep '"msg":"inference engine ready"' "$tmp/log" | grep -q '"engine":"litert' ||
	fail "the unpacked edged did not run the packaged LiteRT: $(grep 'engine' "$tmp/log" | head -3)"
echo "ok: $deb ($(du -k "$deb" | cut -f1) KiB), $rootfs"
