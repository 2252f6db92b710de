# The benchmark (bench/, docs/performance.md): edged against the runtime's own
# limit and against the usual Python pipeline (bench/baseline.py).
#
# bench        the full run: 3 interleaved repetitions on a 300-frame 640x480
#              video and a 100-photo folder, plus 1/2/4 cameras and 1/2/4
#              inference threads; then the live-stream section (a 1080p30
#              H.264 RTSP stream at 1 and 5 results a second and unbounded:
#              edged, the plain Python loop, FFmpeg's decode floors; CPU,
#              memory, label lag); bench/out/results.json and a table; then
#              bench-regions. Minutes; not part of `make test`. BENCH_FLAGS adds
#              flags (e.g. -reps 5).
# bench-smoke  one short repetition of the main comparison and of the live
#              section (part of `make test`, so the harness never rots;
#              nothing in it asserts a speed).
# bench-venv   build/bench-venv with bench/requirements.txt (the baseline's
#              pinned packages). Set PIP_FIND_LINKS=DIR to install from
#              downloaded wheels.

BENCH_VENV   := build/bench-venv
BENCH_PY     := $(BENCH_VENV)/bin/python
BENCH_STAMP  := $(BENCH_VENV)/.bench.stamp
BENCH_FLAGS  ?=

.PHONY: bench bench-smoke bench-venv bench-tools bench-regions
bench-venv: $(BENCH_STAMP)
$(BENCH_STAMP): bench/requirements.txt | deps-bench
	test -x $(BENCH_PY) || $(SYS_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q --disable-pip-version-check -r bench/requirements.txt
	$(BENCH_PY) -c 'import cv2, ai_edge_litert, paho.mqtt; print("bench venv ok: opencv", cv2.__version__)'
	@touch $@

bench-tools: build
	$(GO) build -trimpath -o build/bench/bench ./bench/cmd/bench
	$(GO) build -trimpath -o build/bench/invokelimit ./bench/cmd/invokelimit

bench: deps-demo deps-bench tflite-lib litert-lib bench-venv bench-tools
	build/bench/bench -out bench/out $(BENCH_FLAGS)
	$(MAKE) --no-print-directory bench-regions

# bench-regions: CPU per frame with 1, 4 and 8 regions, batched against one
# by one, and on a still scene with motion gating against every frame; the
# configurations interleaved in each of 3 repetitions, medians reported
# (internal/pipeline BenchmarkRegions; docs/regions.md).
bench-regions: deps tflite-lib
	mkdir -p bench/out
	$(GO) test -run '^$$' -bench BenchmarkRegions -benchtime 3x ./internal/pipeline | tee bench/out/regions.txt

bench-smoke: deps-demo deps-bench tflite-lib litert-lib bench-venv bench-tools
	build/bench/bench -out build/bench-smoke -reps 1 -frames 20 -photos 17 -scan=false \
		-live-seconds 3s -live-size 640x360 -view-seconds 3s $(BENCH_FLAGS)

# fleet-sim: 50, 100 and 200 real edged processes on one mosquitto (each
# one camera: a folder of two photos at 0.1 fps, the bundled model), one
# group; the time until all report a 5 MB model applied, and the bytes the
# broker sent (docs/fleet.md). About 12 GB of memory at 200 boxes; not part
# of make test.
.PHONY: fleet-sim
fleet-sim: deps-test tflite-lib build
	$(GO) build -trimpath -o build/bench/fleetsim ./bench/cmd/fleetsim
	build/bench/fleetsim -out build/fleetsim $(FLEETSIM_FLAGS)
