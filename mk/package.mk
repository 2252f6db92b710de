# Packages (see cross/README.md).
#
#   make package ARCH=amd64|arm64   dist/edged_<version>_<arch>.deb and
#                                   dist/edged_<version>_<arch>-rootfs.tar.gz
#   make test-package-amd64         the amd64 .deb's fields, files and overlay;
#                                   the unpacked binary classifies the demo video
#   make test-package-arm64         the arm64 .deb installed into a Debian arm64
#                                   userland under qemu-user (in make test, beside
#                                   the Python suite: ~10 min cold on 2 cores)
#
# The .deb is dpkg-deb --build of a staged tree (build/pkg/<arch>/root);
# the rootfs tarball is the same tree, without dpkg's control files, plus
# the service enabled (multi-user.target.wants) and a sysusers.d entry
# creating the edged user, for image builders (pi-gen, Yocto, Buildroot).
# Depends: the shlibs of the libraries the binary links (cross/debdeps.sh),
# adduser for the maintainer scripts, procps for the unit's /bin/kill.

# A Debian version from git describe: v1.2-3-gabc -> 1.2+3.gabc; a bare
# commit abc (no tag yet) -> 0.0~git<commit count>.abc; -dirty -> +dirty.
DEB_VERSION := $(shell v='$(VERSION)'; case "$$v" in \
	(v[0-9]*|[0-9]*.[0-9]*) echo "$$v" | sed -E 's/^v//; s/-([0-9]+)-g/+\1.g/; s/-dirty$$/+dirty/; s/-/./g';; \
	(*) echo "0.0~git$$(git rev-list --count HEAD 2>/dev/null || echo 0).$$v" | sed -E 's/-dirty$$/+dirty/; s/-/./g';; esac)
PKG_ROOT     = build/pkg/$(ARCH)/root
PKG_DEB      = dist/edged_$(DEB_VERSION)_$(ARCH).deb
PKG_ROOTFS   = dist/edged_$(DEB_VERSION)_$(ARCH)-rootfs.tar.gz
PKG_DEPENDS_EXTRA := adduser, procps

.PHONY: package test-package-amd64
package: cross tflite-lib litert-lib
	@dpkg --validate-version '$(DEB_VERSION)' || { echo "VERSION=$(VERSION) gives the invalid Debian version $(DEB_VERSION)"; exit 1; }
	rm -rf build/pkg/$(ARCH) && mkdir -p $(PKG_ROOT)/DEBIAN dist
	install -D -m 0755 $(CROSS_OUT) $(PKG_ROOT)/usr/bin/edged
	install -D -m 0644 $(TFLITE_DIR)/linux_$(ARCH)/libtensorflowlite_c.so $(PKG_ROOT)/usr/lib/edged/libtensorflowlite_c.so
	@# LiteRT only where it is verified: its arm64 library (2.2.0) crashes compiling the model under
	@# qemu-user, so the arm64 package runs TFLite (engine auto falls back) until a device proves it.
	$(if $(filter amd64,$(ARCH)),install -D -m 0644 $(LITERT_DIR)/linux_$(ARCH)/libLiteRt.so $(PKG_ROOT)/usr/lib/edged/libLiteRt.so)
	install -D -m 0644 systemd/edged.service $(PKG_ROOT)/lib/systemd/system/edged.service
	install -D -m 0640 packaging/edged.yaml $(PKG_ROOT)/etc/edged/edged.yaml
	install -D -m 0644 packaging/sysusers.conf $(PKG_ROOT)/usr/lib/sysusers.d/edged.conf
	install -d $(PKG_ROOT)/usr/share/edged/models $(PKG_ROOT)/usr/share/doc/edged
	install -m 0644 models/efficientnet_lite0_int8.tflite models/labels.txt models/efficientnet_lite0_int8.json $(PKG_ROOT)/usr/share/edged/models/
	install -m 0644 README.md docs/*.md internal/config/sample.yaml packaging/copyright $(PKG_ROOT)/usr/share/doc/edged/
	install -m 0644 cross/README.md $(PKG_ROOT)/usr/share/doc/edged/cross.md
	install -m 0644 models/README.md $(PKG_ROOT)/usr/share/doc/edged/models.md
	$(if $(filter amd64,$(ARCH)),install -m 0644 $(LITERT_DIR)/linux_$(ARCH)/VERSION $(PKG_ROOT)/usr/share/doc/edged/litert-version)
	install -m 0644 packaging/debian/conffiles $(PKG_ROOT)/DEBIAN/conffiles
	install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm $(PKG_ROOT)/DEBIAN/
	deps="$$(cross/debdeps.sh $(PKG_ROOT)/usr/bin/edged | paste -sd, | sed 's/,/, /g'), $(PKG_DEPENDS_EXTRA)" && \
	size=$$(du -sk --exclude=DEBIAN $(PKG_ROOT) | cut -f1) && \
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(ARCH)/' -e "s/@SIZE@/$$size/" -e "s/@DEPENDS@/$$deps/" \
		packaging/debian/control.in > $(PKG_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(PKG_ROOT) $(PKG_DEB)
	@# The overlay: same tree, owned by root, the unit enabled, no DEBIAN/.
	rm -rf build/pkg/$(ARCH)/overlay && cp -a $(PKG_ROOT) build/pkg/$(ARCH)/overlay && rm -rf build/pkg/$(ARCH)/overlay/DEBIAN
	mkdir -p build/pkg/$(ARCH)/overlay/etc/systemd/system/multi-user.target.wants
	ln -s /lib/systemd/system/edged.service build/pkg/$(ARCH)/overlay/etc/systemd/system/multi-user.target.wants/edged.service
	tar --sort=name --owner=0 --group=0 --numeric-owner -C build/pkg/$(ARCH)/overlay -czf $(PKG_ROOTFS) .
	@ls -l $(PKG_DEB) $(PKG_ROOTFS)

# test-package-amd64: see cross/test-package-amd64.sh.
test-package-amd64: deps-test tflite-lib
	$(MAKE) --no-print-directory package ARCH=amd64
	DEB=dist/edged_$(DEB_VERSION)_amd64.deb ROOTFS=dist/edged_$(DEB_VERSION)_amd64-rootfs.tar.gz cross/test-package-amd64.sh

# About 30-75 s here (the build is mostly cached by then): part of make test.
test-go: test-package-amd64

# test-package-arm64: the arm64 .deb installs into a Debian arm64 userland
# under qemu-user (binfmt_misc) and classifies the demo video, publishing
# to a mosquitto on this machine's loopback. See cross/test-package-arm64.sh.
.PHONY: test-package-arm64
test-package-arm64: deps-pkgtest
	$(MAKE) --no-print-directory package ARCH=arm64
	$(SUDO) env DEB=dist/edged_$(DEB_VERSION)_arm64.deb cross/test-package-arm64.sh
