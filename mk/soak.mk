# Soak: edged runs for SOAK_MINUTES on a looping video, a looping image
# folder (with a corrupt image) and an MJPEG stream that drops every two
# minutes, against a real mosquitto; RSS and open descriptors are sampled
# from /proc every 5 s and their least-squares slope after the warm-up
# (a quarter of the run) must stay within SOAK_RSS_MIB_PER_HOUR and
# SOAK_FDS_PER_HOUR. The report goes to build/soak/report.json.
# Not part of `make test` (whose normal mode runs a 15-second smoke of it).
#
#   make soak                      20 minutes
#   make soak SOAK_MINUTES=60      longer

SOAK_MINUTES ?= 20
SOAK_RSS_MIB_PER_HOUR ?= 24
SOAK_FDS_PER_HOUR ?= 6

.PHONY: soak
soak: deps tflite-lib
	@mkdir -p build/soak
	SOAK_MINUTES=$(SOAK_MINUTES) SOAK_RSS_MIB_PER_HOUR=$(SOAK_RSS_MIB_PER_HOUR) \
	SOAK_FDS_PER_HOUR=$(SOAK_FDS_PER_HOUR) SOAK_REPORT=$(CURDIR)/build/soak/report.json \
	$(GO) test -count=1 -v -run '^TestSoak$$' -timeout $$(( $(SOAK_MINUTES) + 10 ))m ./cmd/edged/
