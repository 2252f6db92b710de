# Firmware images (see cross/README.md, "Firmware images").
#
#   make firmware-image ARCH=amd64|arm64   dist/edged-firmware_<version>_<arch>.img:
#                                          a bootable GPT disk (UEFI) of Debian
#                                          bookworm with edged (cross/firmware-image.sh)
#   make test-firmware [ARCH=…]            boots the image(s) in qemu-system and
#                                          checks edged under a real systemd
#                                          (cross/test_firmware.py); both
#                                          architectures unless ARCH is given
#
# On demand, not in `make test` (cold: the roots and the arm64 boot under
# TCG take longer than CI's budget allows; figures in cross/README.md).
# Run test-firmware before resolving a change to the unit, the packaging
# or edged's start-up.

FIRMWARE_IMG = dist/edged-firmware_$(DEB_VERSION)_$(ARCH).img
FIRMWARE_ARCHES := $(if $(filter command line,$(origin ARCH)),$(ARCH),amd64 arm64)

.PHONY: firmware-image test-firmware
firmware-image: deps-firmware
	$(MAKE) --no-print-directory package ARCH=$(ARCH)
	$(SUDO) env ARCH=$(ARCH) DEB=dist/edged_$(DEB_VERSION)_$(ARCH).deb \
		ROOTFS=dist/edged_$(DEB_VERSION)_$(ARCH)-rootfs.tar.gz OUT=$(FIRMWARE_IMG) \
		FIRMWARE_PACKAGES='$(FIRMWARE_PACKAGES)' cross/firmware-image.sh

test-firmware: deps-firmware
	@set -e; for a in $(FIRMWARE_ARCHES); do \
		$(MAKE) --no-print-directory firmware-image ARCH=$$a; \
		$(SUDO) python3 cross/test_firmware.py --arch $$a --image dist/edged-firmware_$(DEB_VERSION)_$$a.img \
			--model models/efficientnet_lite0_int8.tflite --out build/firmware/$$a/test; \
	done
