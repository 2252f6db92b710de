#!/bin/bash -e
# pi-gen stage step: edged from its rootfs overlay, the way
# cross/firmware-image.sh puts it into the emulated board's image.
#
# Put into files/ before running pi-gen (see cross/README.md):
#   edged-rootfs.tar.gz   dist/edged_<version>_arm64-rootfs.tar.gz (make package ARCH=arm64)
#   edged.yaml            optional: the configuration the image boots with
# 00-packages lists the Depends of the arm64 .deb
# (dpkg-deb -f dist/edged_<version>_arm64.deb Depends) and the GStreamer
# plugins it recommends; regenerate it when they change.

# --keep-directory-symlink: keeps /lib a symlink to usr/lib (merged /usr).
tar --keep-directory-symlink -xzf files/edged-rootfs.tar.gz -C "${ROOTFS_DIR}"
if [ -f files/edged.yaml ]; then
	install -m 0640 files/edged.yaml "${ROOTFS_DIR}/etc/edged/edged.yaml"
fi

on_chroot <<'CHROOT'
systemd-sysusers
chown root:edged /etc/edged /etc/edged/edged.yaml
chmod 0750 /etc/edged
# Raspberry Pi OS has a gpio group: edged drives GPIO through /dev/gpiochip*.
if getent group gpio >/dev/null; then adduser --quiet edged gpio; fi
systemctl enable edged.service
CHROOT
