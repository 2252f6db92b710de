# edged — build, run and test.
#
#   make demo   install what is needed, build, run edged on its bundled defaults
#   make test   install what the tests need and run every test
#
# Fragments in mk/ add the targets of each part (TFLite runtime, trainer, ...).

GO      ?= go
# The toolchain edged is built and checked with: go1.27.3 carries the
# standard library's security fixes that go1.26.8 lacks (govulncheck in
# `make lint`). The go command fetches it from the module proxy once.
export GOTOOLCHAIN ?= go1.27.3
PY      ?= .venv/bin/python
ARCH    ?= $(shell $(GO) env GOARCH 2>/dev/null || echo amd64)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build demo test test-go test-unit vet clean
all: build

-include mk/*.mk

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edged ./cmd/edged

# demo runs edged on the bundled sample video with the bundled default model
# and the embedded MQTT broker, printing each result as it is published.
demo: deps-demo tflite-lib litert-lib build
	bin/edged run --source samples/demo.avi --resize center-crop --stdout

vet:
	$(GO) vet ./...

test-go: deps tflite-lib litert-lib conformance-models ha-venv build lint test-systemd
	$(GO) test -count=1 ./...

# test-unit: the packages' own tests in -short mode, no lint, packaging,
# emulation or binary-level integration (cmd/edged): about half a minute
# once the build cache is warm. Tests needing a runtime library skip
# without it (make tflite-lib litert-lib), except under CI=true.
test-unit: deps-build
	$(GO) test -short -count=1 ./internal/...

# After the Go tests, the Python suite and the arm64 package test (mostly
# downloads and emulation: cross/README.md) run side by side, each one's
# output kept together; then the container images (amd64, then arm64 under
# qemu-user on the root the package test cached), the Quadlet unit and the
# compose file (docs/container.md); then one short benchmark repetition.
test: test-go
	$(MAKE) --no-print-directory -j2 --output-sync=target test-python test-package-arm64
	$(MAKE) --no-print-directory test-images test-quadlet test-compose
	$(MAKE) --no-print-directory bench-smoke

clean:
	rm -rf bin build dist
