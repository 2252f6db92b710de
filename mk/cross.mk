# Cross-compilation (see cross/README.md).
#
#   make cross ARCH=amd64   edged for amd64 (native build) -> build/cross/amd64/edged
#   make cross ARCH=arm64   edged for arm64 (Pi 4/5 64-bit, Jetson) with cgo,
#                           linked against Debian bookworm's arm64 OpenCV
#                           -> build/cross/arm64/edged
#
# The arm64 sysroot is Debian bookworm's arm64 libopencv-dev and its
# dependencies, unpacked (mmdebstrap's extract variant: nothing of arm64 is
# run) into build/sysroot-arm64 from the apt sources this machine uses.
# TFLite needs nothing at build time: edged dlopens it.

SYSROOT_ARM64 := build/sysroot-arm64
CROSS_OUT      = build/cross/$(ARCH)/edged

.PHONY: cross sysroot-arm64
cross: deps-build $(if $(filter arm64,$(ARCH)),deps-cross sysroot-arm64)
	@case "$(ARCH)" in amd64|arm64) ;; \
		arm|armv7|armhf) echo "ARCH=$(ARCH): unsupported for now, see cross/README.md (no prebuilt 32-bit TFLite C library)"; exit 1;; \
		*) echo "ARCH=$(ARCH): unknown; use amd64 or arm64"; exit 1;; esac
	@mkdir -p $(dir $(CROSS_OUT))
	@if [ "$(ARCH)" = "$$($(GO) env GOHOSTARCH)" ]; then \
		set -x; CGO_ENABLED=1 GOARCH=$(ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(CROSS_OUT) ./cmd/edged; \
	elif [ "$(ARCH)" = arm64 ]; then \
		s=$(CURDIR)/$(SYSROOT_ARM64); set -x; \
		CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC="aarch64-linux-gnu-gcc --sysroot=$$s" CXX="aarch64-linux-gnu-g++ --sysroot=$$s" \
		PKG_CONFIG_SYSROOT_DIR=$$s PKG_CONFIG_LIBDIR=$$s/usr/lib/aarch64-linux-gnu/pkgconfig:$$s/usr/share/pkgconfig \
		CGO_LDFLAGS="-Wl,-rpath-link=$$s/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$$s/lib/aarch64-linux-gnu" \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(CROSS_OUT) ./cmd/edged; \
	else echo "ARCH=$(ARCH) from a $$($(GO) env GOHOSTARCH) host: not supported"; exit 1; fi
	@file $(CROSS_OUT) 2>/dev/null || ls -l $(CROSS_OUT)

sysroot-arm64: $(SYSROOT_ARM64)/.stamp
$(SYSROOT_ARM64)/.stamp: mk/cross.mk | deps-cross
	rm -rf $(SYSROOT_ARM64) $(SYSROOT_ARM64).tmp
	mmdebstrap --quiet --variant=extract --architectures=arm64 --include=libopencv-dev bookworm $(SYSROOT_ARM64).tmp
	@# BLAS and LAPACK are chosen by update-alternatives in postinst, which the
	@# extract variant does not run: point their sonames at the reference ones.
	for d in blas lapack; do for f in $(SYSROOT_ARM64).tmp/usr/lib/aarch64-linux-gnu/$$d/lib*.so.3; do \
		ln -sf $$d/$$(basename $$f) $(SYSROOT_ARM64).tmp/usr/lib/aarch64-linux-gnu/$$(basename $$f); done; done
	mv $(SYSROOT_ARM64).tmp $(SYSROOT_ARM64)
	touch $@
