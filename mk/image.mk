# Container images (docs/container.md).
#
#   make image ARCH=amd64|arm64   dist/edged_<version>_<arch>-image.tar, a
#                                 docker-archive (podman load, docker load)
#                                 built by cross/image.sh from Debian
#                                 packages and edged's .deb: no base image
#   make image-all                both, and their multi-arch index as one
#                                 OCI archive (cross/image-index.sh):
#                                 dist/edged_<version>-image-multiarch.tar
#   make test-image ARCH=...      the image run with podman against a
#                                 mosquitto on the host (cross/test-image.sh)
#   make test-images              test-image for amd64, then arm64 under
#                                 qemu-user (part of make test)
IMAGE_TAR = dist/edged_$(DEB_VERSION)_$(ARCH)-image.tar
GIT_REV  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

.PHONY: image image-all test-image test-images
image: deps-image
	$(MAKE) --no-print-directory package ARCH=$(ARCH)
	$(SUDO) env ARCH=$(ARCH) DEB=$(PKG_DEB) VERSION=$(DEB_VERSION) REVISION=$(GIT_REV) cross/image.sh

image-all:
	$(MAKE) --no-print-directory image ARCH=amd64
	$(MAKE) --no-print-directory image ARCH=arm64
	$(SUDO) env VERSION=$(DEB_VERSION) cross/image-index.sh

test-image: image
	$(SUDO) env ARCH=$(ARCH) IMAGE=$(IMAGE_TAR) cross/test-image.sh

test-images:
	$(MAKE) --no-print-directory test-image ARCH=amd64
	$(MAKE) --no-print-directory test-image ARCH=arm64

# test-quadlet: the Quadlet unit through Podman's generator (podman 4.9.5's,
# built here from the Go module proxy into build/tools/quadlet) and the
# service it generates through systemd-analyze verify.
QUADLET_VERSION := v4.9.5
QUADLET := build/tools/quadlet
.PHONY: test-quadlet
test-quadlet: deps-image $(QUADLET)
	QUADLET=$(QUADLET) cross/test-quadlet.sh
$(QUADLET): mk/image.mk
	rm -rf build/quadlet-mod && mkdir -p build/quadlet-mod build/tools
	printf 'module quadletbuild\n\ngo 1.22\n' > build/quadlet-mod/go.mod
	cd build/quadlet-mod && GOFLAGS=-mod=mod $(GO) get github.com/containers/podman/v4/cmd/quadlet@$(QUADLET_VERSION) && \
		GOFLAGS=-mod=mod $(GO) build -tags "remote exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp" \
			-o $(CURDIR)/$(QUADLET) github.com/containers/podman/v4/cmd/quadlet

# test-compose: packaging/container/compose.yaml against the Compose
# Specification's JSON schema (as compose-go embeds it, from the Go module
# proxy), with jsonschema in a venv of its own; podman-compose's config
# alone lets unknown keys through.
COMPOSE_GO_VERSION := v2.4.9
COMPOSE_VENV := build/compose-venv
.PHONY: test-compose
test-compose: deps-image
	test -x $(COMPOSE_VENV)/bin/python || python3 -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/python -m pip install -q --disable-pip-version-check jsonschema==4.23.0 pyyaml==6.0.2
	dir=$$(GOFLAGS= $(GO) mod download -json github.com/compose-spec/compose-go/v2@$(COMPOSE_GO_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		$(COMPOSE_VENV)/bin/python cross/check-compose.py "$$dir/schema/compose-spec.json" packaging/container/compose.yaml
