#!/bin/bash -e
# pi-gen: this stage builds on the previous one's root (stage2 for a
# Raspberry Pi OS Lite image).
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
