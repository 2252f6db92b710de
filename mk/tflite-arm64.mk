# test-tflite-arm64: the TFLite binding and engine tests, cross-compiled for
# arm64 and run under qemu-user against the arm64 libtensorflowlite_c.so that
# `make tflite-lib` fetches (what a Raspberry Pi 4/5 or Jetson runs). The
# packages are not in `make deps`: this check is optional and slow-ish (about
# a minute of emulation). The two test packages use no OpenCV, so no arm64
# OpenCV is needed. Its packages: DEPS_arm64test in mk/deps.mk.

ARM64_ENV := CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc

.PHONY: test-tflite-arm64
test-tflite-arm64: deps-arm64test tflite-lib conformance-models
	@mkdir -p build/arm64
	$(ARM64_ENV) $(GO) test -c -o build/arm64/tflite.test ./internal/infer/tfliteengine/tflite
	$(ARM64_ENV) $(GO) test -c -o build/arm64/tfliteengine.test ./internal/infer/tfliteengine
	cd internal/infer/tfliteengine/tflite && QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 ../../../../build/arm64/tflite.test -test.count=1
	cd internal/infer/tfliteengine && GOMODCACHE=$$($(GO) env GOMODCACHE) QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
		qemu-aarch64 ../../../build/arm64/tfliteengine.test -test.count=1
