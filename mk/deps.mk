# Debian packages: one list per purpose, one way to install them.
#
#   make deps-PURPOSE   install what PURPOSE needs and is missing (apt-get,
#                       as root or through sudo); a stamp per purpose keeps
#                       reruns instant and is remade when this file changes
#   make deps           the same as deps-test (everything `make test` runs)
#   make print-deps     every purpose and its packages
#
# Every target that needs packages depends on deps-PURPOSE; nothing else in
# the Makefile calls apt-get. What a fresh Debian 12 machine needs beyond
# Go, git and make is here: `make check-fresh` (mk/fresh.mk) proves it.
#
# The lists are the packages edged's steps call directly; apt adds their
# recommended packages as it does by default (mmdebstrap, for one, only
# recommends arch-test, which it needs for a foreign architecture: so
# arch-test is named here all the same).

# build: edged itself (cgo against Debian's OpenCV 4.6 through pkg-config).
DEPS_build    := gcc g++ pkg-config libopencv-dev ca-certificates
# gst: the GStreamer plugins edged's key-frame decoding and board presets
# use (rtspsrc and souphttpsrc, h264parse and parsebin, avdec_h264); the
# .deb recommends them.
DEPS_gst      := gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-libav
# demo: the build, plus the clients that fetch the runtimes (TFLite from
# npm, LiteRT's wheel with pip).
DEPS_demo     := $(DEPS_build) npm python3-pip
# test: the demo, plus the real parts the tests use (mosquitto, FFmpeg for
# the test videos, real photos and Fashion-MNIST, Debian's CPU torch for the
# trainer, systemd-analyze for the unit, procps' kill, readelf and file for
# the packages, GStreamer's plugins for key-frame decoding and the presets
# and its RTSP server for the stream tests, Chromium and a font for the
# live view's browser test), and everything the package tests and the
# benchmark need.
DEPS_test     := $(DEPS_demo) mosquitto mosquitto-clients ffmpeg python3-venv \
	python3-torch python3-torchvision dataset-fashion-mnist opencv-doc \
	systemd procps binutils file $(DEPS_gst) gir1.2-gst-rtsp-server-1.0 python3-gi \
	chromium fonts-dejavu-core
# cross: the arm64 cross toolchain and the arm64 sysroot (mmdebstrap).
DEPS_cross    := gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross \
	pkg-config mmdebstrap arch-test
# pkgtest: an arm64 userland under qemu-user through binfmt_misc, talking
# to a mosquitto on the host.
DEPS_pkgtest  := qemu-user-static binfmt-support mmdebstrap arch-test \
	mosquitto mosquitto-clients
# arm64test: the binding tests cross-compiled and run under qemu-user
# (make test-tflite-arm64, on demand).
DEPS_arm64test := qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++6-arm64-cross
# bench: the Python baseline's venv and the broker it publishes to; for
# the live section, ffmpeg, GStreamer's RTSP server and plugins.
DEPS_bench    := python3-venv python3-pip mosquitto ffmpeg gir1.2-gst-rtsp-server-1.0 python3-gi \
	$(DEPS_gst)
# fresh: make check-fresh builds a bookworm root and runs the README there.
DEPS_fresh    := mmdebstrap git util-linux
# image: the container images (mmdebstrap root, podman build) and their
# test (podman with runc, arm64 under qemu-user, mosquitto on the host, and
# an RTSP camera: GStreamer's RTSP server serving H.264 that ffmpeg makes
# from an opencv-doc photo).
DEPS_image    := podman runc mmdebstrap arch-test qemu-user-static binfmt-support \
	mosquitto mosquitto-clients python3 python3-venv \
	ffmpeg opencv-doc gir1.2-gst-rtsp-server-1.0 python3-gi $(DEPS_gst)

# firmware: the bootable images (mmdebstrap root, FAT and ext4 made without
# mounting, a GPT disk) and their boot test (qemu-system with UEFI
# firmware, ssh into the guest, mosquitto on the host); on demand.
DEPS_firmware := mmdebstrap arch-test qemu-user-static binfmt-support \
	qemu-system-x86 qemu-system-arm ovmf qemu-efi-aarch64 mtools dosfstools \
	e2fsprogs fdisk openssh-client mosquitto mosquitto-clients python3

DEPS_PURPOSES := build demo test cross pkgtest arm64test bench fresh image firmware
# test covers what the package tests, the images and the benchmark need as
# well.
DEPS_test     += $(DEPS_cross) $(DEPS_pkgtest) $(DEPS_bench) $(DEPS_image)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# apt-install: the packages of $(1) that no installed package is or
# provides (nodesource's nodejs provides npm, say), installed in one
# apt-get call after one index update.
define apt-install
have=" $$(dpkg-query -W -f='$${db:Status-Status} $${Package} $${Provides}\n' 2>/dev/null | \
	sed -n 's/ ([^)]*)//g; s/,//g; s/^installed //p' | tr '\n' ' ') "; \
missing=$$(for p in $(sort $(1)); do case "$$have" in *" $$p "*) ;; *) echo $$p;; esac; done); \
if [ -n "$$missing" ]; then \
	echo "installing:" $$missing; \
	$(SUDO) apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
fi
endef

.PHONY: deps print-deps $(addprefix deps-,$(DEPS_PURPOSES))
deps: deps-test
$(addprefix deps-,$(DEPS_PURPOSES)): deps-%: build/.deps-%.stamp
build/.deps-%.stamp: mk/deps.mk
	@mkdir -p build
	@$(call apt-install,$(DEPS_$*))
	@touch $@

print-deps:
	@$(foreach p,$(DEPS_PURPOSES),echo "$(p): $(sort $(DEPS_$(p)))";)
	@echo "all: $(sort $(foreach p,$(DEPS_PURPOSES),$(DEPS_$(p))))"
