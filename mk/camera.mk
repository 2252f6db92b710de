# Capture (internal/camera, GoCV) and preprocessing (internal/preprocess).
#
#   make test-camera     the capture and preprocessing tests (real photos from opencv-doc)
#   make test-matprofile gocv's Mat counter: fails when the camera leaks a Mat
#   make bench-capture   decode + resize per frame, and conversion into a 224x224 input

.PHONY: test-camera test-matprofile bench-capture

test-camera: deps
	$(GO) test -count=1 ./internal/camera/ ./internal/preprocess/

# The matprofile build tag makes gocv count every live Mat; only the leak
# test is run under it. `make test` runs it too.
test-matprofile: deps
	$(GO) test -count=1 -tags matprofile -run 'NoMatLeaks' ./internal/camera/

test-go: test-matprofile

bench-capture: deps
	$(GO) test -run '^$$' -bench 'CaptureResize|Convert' -benchmem ./internal/camera/ ./internal/preprocess/
