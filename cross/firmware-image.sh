#!/bin/sh
# firmware-image.sh: a bootable disk image of Debian bookworm with edged,
# assembled the way an image builder does it (see cross/README.md):
#
#   1. a root file system from mmdebstrap (minbase): systemd as init, udev,
#      a kernel from Debian's linux-image-$KARCH, systemd-networkd (DHCP),
#      openssh-server, and the Depends of our .deb ($DEB);
#   2. our rootfs overlay ($ROOTFS, made by `make package`) unpacked over
#      it: the binary, the runtime, the unit enabled, the sysusers.d entry;
#   3. the firmware's own files (cross/firmware/): the demo video as the
#      camera, edged-bootconfig (settings dropped into the boot partition),
#      DHCP on wired interfaces, the fstab;
#   4. a GPT disk: an EFI system partition (FAT: systemd-boot, the kernel,
#      the initramfs, a loader entry) and the root partition (ext4, made
#      with mkfs.ext4 -d: no loop device, no mount).
#
# The disk boots under UEFI (OVMF on x86-64, AAVMF on the arm64 virt
# machine; the boot test is cross/test_firmware.py) and on boards whose
# firmware is UEFI. The root file system tree is cached under
# build/firmware/<arch>/base-<hash> by a hash of its packages; edged and
# the firmware's files go onto a copy at each build.
#
# Environment: ARCH (amd64|arm64), DEB, ROOTFS, OUT (the .img to write),
# FIRMWARE_PACKAGES (more Debian packages, comma-separated).
set -eu

arch=${ARCH:?ARCH=amd64 or arm64}
deb=${DEB:?DEB=the edged .deb for ARCH}
rootfs=${ROOTFS:?ROOTFS=the rootfs overlay tarball for ARCH}
out=${OUT:?OUT=the disk image to write}
[ "$(id -u)" = 0 ] || { echo "firmware-image: needs root (mmdebstrap, file owners in the root)" >&2; exit 1; }
. cross/binfmt.sh
need_binfmt "$arch" firmware-image
case "$arch" in
amd64) karch=amd64 efi=x64 console=ttyS0;;
arm64) karch=arm64 efi=aa64 console=ttyAMA0;;
*) echo "firmware-image: ARCH=$arch: amd64 or arm64" >&2; exit 1;;
esac

t0=$(date +%s)
src=$(pwd)
work=$src/build/firmware/$arch
mkdir -p "$work"
case "$rootfs" in /*) ;; *) rootfs=$src/$rootfs;; esac
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -v '^$' | sort -u | paste -sd, -)
[ -n "$deps" ] || { echo "firmware-image: no Depends read from $deb" >&2; exit 1; }
# The pi-gen stage lists the same Depends (cross/pi-gen): keep it true.
if [ "$arch" = arm64 ]; then
	for d in $(echo "$deps" | tr ',' ' '); do
		case "$d" in libc6|libgcc-s1|libstdc++6) continue;; esac
		grep -qx "$d" cross/pi-gen/stage-edged/00-install-edged/00-packages ||
			{ echo "firmware-image: $d (a Depends of $deb) is missing from cross/pi-gen/stage-edged/00-install-edged/00-packages" >&2; exit 1; }
	done
fi
pkgs="systemd-sysv,udev,kmod,linux-image-$karch,systemd-boot-efi,openssh-server,iproute2,e2fsprogs,dosfstools,util-linux,$deps"
# More packages, comma-separated: the .deb's Recommends (GStreamer's
# plugins for the gst: presets) are left out unless named here.
[ -z "${FIRMWARE_PACKAGES:-}" ] || pkgs="$pkgs,$FIRMWARE_PACKAGES"
# The base root (Debian's packages) is cached by what goes into it; bump
# recipe when the mmdebstrap call below changes. edged's overlay and the
# firmware's files go onto a copy of it at each build.
recipe=2
key=$(printf 'bookworm %s %s recipe %s\n' "$arch" "$pkgs" "$recipe" | sha256sum | cut -c1-16)
base=$work/base-$key
if [ ! -d "$base" ]; then
	rm -rf "$work"/base-* "$base.tmp"
	mkdir "$base.tmp"
	echo "firmware-image: building the $arch base root ($pkgs)"
	# Recommends off: the image holds what is named, nothing more.
	mmdebstrap --quiet --variant=minbase --architectures="$arch" \
		--aptopt='APT::Install-Recommends "false"' \
		--include="$pkgs" \
		bookworm "$base.tmp/"
	mv "$base.tmp" "$base"
	echo "firmware-image: base root built in $(( $(date +%s) - t0 )) s"
fi

# The image's root: the base, edged's rootfs overlay (as image builders
# use it), the firmware's files; units enabled and the user made with the
# host's systemctl and systemd-sysusers on the tree (no chroot).
tree=$work/root
rm -rf "$tree"
cp -a "$base" "$tree"
# apt's downloads and indexes: `apt update` fetches them again.
rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/cache/apt/*.bin "$tree"/var/lib/apt/lists/*_*
# --keep-directory-symlink: the overlay has ./lib/, and bookworm's /lib is a
# symlink to usr/lib (merged /usr); plain tar would replace it with a
# directory holding only our unit, and the image would not boot.
tar --keep-directory-symlink -xzf "$rootfs" -C "$tree"
install -D -m 0644 samples/demo.avi "$tree/usr/share/edged/demo/demo.avi"
install -m 0640 cross/firmware/edged.yaml "$tree/etc/edged/edged.yaml"
install -D -m 0755 cross/firmware/bootconfig.sh "$tree/usr/lib/edged/firmware/bootconfig.sh"
install -m 0644 cross/firmware/edged-bootconfig.service cross/firmware/ssh-hostkeys.service cross/firmware/edged-hostname.service "$tree/lib/systemd/system/"
# Every copy must be a new box: no SSH host keys (ssh-hostkeys makes them),
# a machine id made at the first boot ("uninitialized" is systemd's first
# boot), root without a password (a key from the boot partition, or none).
rm -f "$tree"/etc/ssh/ssh_host_*
printf 'uninitialized\n' > "$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id"
sed -i 's/^root:[^:]*:/root:*:/' "$tree/etc/shadow"
echo edged > "$tree/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tedged\n' > "$tree/etc/hosts"
install -m 0644 cross/firmware/80-dhcp.network "$tree/etc/systemd/network/"
systemd-sysusers --root="$tree"
systemctl --root="$tree" --quiet enable systemd-networkd.service edged-bootconfig.service ssh-hostkeys.service edged-hostname.service edged.service
# openssh-server's own postinst enabled ssh.service in the base.
for u in ssh edged edged-bootconfig ssh-hostkeys edged-hostname systemd-networkd; do
	ls "$tree"/etc/systemd/system/*.wants/$u.service >/dev/null 2>&1 || { echo "firmware-image: $u.service is not enabled" >&2; exit 1; }
done
edged_ids=$(awk -F: '$1 == "edged" { print $3 ":" $4 }' "$tree/etc/passwd")
[ -n "$edged_ids" ] || { echo "firmware-image: systemd-sysusers made no edged user" >&2; exit 1; }
chown "root:${edged_ids#*:}" "$tree/etc/edged" "$tree/etc/edged/edged.yaml"
chmod 0750 "$tree/etc/edged"

kver=$(ls "$tree/lib/modules" | sort -V | tail -n1)
[ -f "$tree/boot/vmlinuz-$kver" ] && [ -f "$tree/boot/initrd.img-$kver" ] || { echo "firmware-image: no kernel or initramfs $kver in the root" >&2; exit 1; }
stub=$tree/usr/lib/systemd/boot/efi/systemd-boot$efi.efi
[ -f "$stub" ] || { echo "firmware-image: $stub missing" >&2; exit 1; }

# The partitions' identities, fixed per image so that fstab and the
# loader entry can name them.
esp_uuid=$(cat /proc/sys/kernel/random/uuid)
root_uuid=$(cat /proc/sys/kernel/random/uuid)
fat_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
cat > "$tree/etc/fstab" <<EOF
PARTUUID=$root_uuid / ext4 rw,noatime,errors=remount-ro 0 1
PARTUUID=$esp_uuid /boot/efi vfat rw,umask=0077,nofail 0 2
EOF
install -d "$tree/boot/efi"

# The EFI system partition, written with mtools (no mount).
esp=$work/esp.img
esp_mib=160
rm -f "$esp"
mkfs.fat -F 32 -n EDGED-BOOT -i "$fat_id" -C "$esp" $((esp_mib * 1024)) >/dev/null
kernel=$work/vmlinuz
# systemd-boot starts the kernel through its EFI stub, which an arm64
# Debian kernel has only once decompressed.
if gzip -t "$tree/boot/vmlinuz-$kver" 2>/dev/null; then
	gzip -dc "$tree/boot/vmlinuz-$kver" > "$kernel"
else
	cp "$tree/boot/vmlinuz-$kver" "$kernel"
fi
EFI_UPPER=$(echo "$efi" | tr a-z A-Z)
printf 'default edged.conf\ntimeout 0\n' > "$work/loader.conf"
printf 'title edged (Debian bookworm, %s)\nlinux /vmlinuz\ninitrd /initrd.img\noptions root=PARTUUID=%s rw console=%s,115200 systemd.show_status=1\n' \
	"$kver" "$root_uuid" "$console" > "$work/edged.conf"
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -i "$esp" "$stub" "::/EFI/BOOT/BOOT$EFI_UPPER.EFI"
mcopy -i "$esp" "$kernel" ::/vmlinuz
mcopy -i "$esp" "$tree/boot/initrd.img-$kver" ::/initrd.img
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$esp" "$work/edged.conf" ::/loader/entries/edged.conf
printf 'Drop an edged/ folder (edged.yaml, models) or an authorized_keys file here:\nedged-bootconfig applies them at the next boot (see /usr/share/doc/edged/cross.md).\n' > "$work/README.txt"
mcopy -i "$esp" "$work/README.txt" ::/README.txt

# The root partition: the tree plus room for the queue, logs and samples.
used_mib=$(du -sm --exclude=./proc --exclude=./sys "$tree" | cut -f1)
root_mib=$((used_mib + used_mib / 4 + 512))
rootimg=$work/root.img
rm -f "$rootimg"
mkfs.ext4 -q -F -L edged-root -d "$tree" "$rootimg" "${root_mib}M"

# The disk: GPT, 1 MiB aligned, the ESP first.
disk_mib=$((1 + esp_mib + root_mib + 1))
tmp=$out.tmp
rm -f "$tmp"
truncate -s "${disk_mib}M" "$tmp"
sfdisk --quiet "$tmp" <<EOF
label: gpt
start=1MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_uuid, name=esp
start=$((1 + esp_mib))MiB, size=${root_mib}MiB, type=$(case $arch in amd64) echo 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709;; arm64) echo B921B045-1DF0-41C3-AF44-4C6F280D3FAE;; esac), uuid=$root_uuid, name=root
EOF
dd if="$esp" of="$tmp" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$rootimg" of="$tmp" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
rm -f "$esp" "$rootimg" "$kernel"
mv "$tmp" "$out"
echo "firmware-image: $out ($arch, kernel $kver): $(du -m --apparent-size "$out" | cut -f1) MiB disk, $(du -m "$out" | cut -f1) MiB used, in $(( $(date +%s) - t0 )) s"
