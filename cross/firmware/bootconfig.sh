#!/bin/sh
# edged-bootconfig: applies what was dropped into the boot partition (the
# FAT EFI system partition, mounted at /boot/efi, which any computer can
# write to after the image is flashed), before edged and ssh start:
#
#   edged/            every file in it is copied into /etc/edged (an
#                     edged.yaml, model and labels files, credentials),
#                     then the folder is renamed edged.applied
#   authorized_keys   appended to root's ~/.ssh/authorized_keys, then
#                     renamed authorized_keys.applied
#
# Nothing there: nothing happens. A file that cannot be applied is left in
# place and the service fails, so `systemctl --failed` shows it.
set -eu
boot=${BOOTCONFIG_DIR:-/boot/efi}
if [ -d "$boot/edged" ]; then
	for f in "$boot"/edged/*; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		case "$name" in
		*/* | .* | "") echo "bootconfig: skipping $f" >&2; continue;;
		esac
		install -m 0640 -o root -g edged "$f" "/etc/edged/$name"
		echo "bootconfig: /etc/edged/$name from $f"
	done
	rm -rf "$boot/edged.applied"
	mv "$boot/edged" "$boot/edged.applied"
fi
if [ -f "$boot/authorized_keys" ]; then
	install -d -m 0700 /root/.ssh
	cat "$boot/authorized_keys" >> /root/.ssh/authorized_keys
	chmod 0600 /root/.ssh/authorized_keys
	mv "$boot/authorized_keys" "$boot/authorized_keys.applied"
	echo "bootconfig: root's authorized_keys from $boot/authorized_keys"
fi
