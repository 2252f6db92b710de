# The LiteRT C runtime (the second inference engine, internal/infer/litertengine/litert).
#
# litert-lib: libLiteRt.so from PyPI's ai-edge-litert 2.2.0 wheels (Apache-2.0)
# for linux amd64 and arm64, into the ignored third_party/litert/linux_<arch>/.
# The wheels are fetched once with pip (no dependencies, checked by sha256)
# and cached in build/litert-wheels/. The wheel ships no C headers: the
# binding's declarations were checked against litert/c/*.h at LiteRT's
# v2.2.0 tag, and internal/infer/litertengine/litert/abi_test.go checks them against the
# symbols these libraries export.

LITERT_VERSION := 2.2.0
LITERT_DIR     := third_party/litert
LITERT_CACHE   := build/litert-wheels
LITERT_WHEEL_amd64 := ai_edge_litert-$(LITERT_VERSION)-cp311-cp311-manylinux_2_27_x86_64.whl
LITERT_WHEEL_arm64 := ai_edge_litert-$(LITERT_VERSION)-cp311-cp311-manylinux_2_27_aarch64.whl
LITERT_SHA_amd64   := 0171f556fffa335281acd7d468de999fd4de32f6bf1a5f14e680676591cef764
LITERT_SHA_arm64   := 808da1d1b3f93f05ce27444bf3d3bed8be928d2779483b5065df226e01c599d5
LITERT_PLAT_amd64  := manylinux_2_27_x86_64
LITERT_PLAT_arm64  := manylinux_2_27_aarch64

.PHONY: litert-lib
litert-lib: $(LITERT_DIR)/.stamp
$(LITERT_DIR)/.stamp: mk/litert.mk | deps-demo
	@command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 || { echo "pip is needed to fetch the LiteRT runtime: make deps-demo (Debian package python3-pip)"; exit 1; }
	mkdir -p $(LITERT_CACHE)
	for a in amd64 arm64; do \
		case $$a in amd64) w=$(LITERT_WHEEL_amd64); s=$(LITERT_SHA_amd64); p=$(LITERT_PLAT_amd64);; \
		            arm64) w=$(LITERT_WHEEL_arm64); s=$(LITERT_SHA_arm64); p=$(LITERT_PLAT_arm64);; esac; \
		[ -f $(LITERT_CACHE)/$$w ] || python3 -m pip download --quiet --no-deps --only-binary=:all: \
			--python-version 311 --implementation cp --abi cp311 --platform $$p \
			-d $(LITERT_CACHE) ai-edge-litert==$(LITERT_VERSION) || exit 1; \
		echo "$$s  $(LITERT_CACHE)/$$w" | sha256sum -c --quiet || exit 1; \
		mkdir -p $(LITERT_DIR)/linux_$$a && \
		python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("ai_edge_litert/libLiteRt.so"))' \
			$(LITERT_CACHE)/$$w $(LITERT_DIR)/linux_$$a/libLiteRt.so || exit 1; \
		echo $(LITERT_VERSION) > $(LITERT_DIR)/linux_$$a/VERSION; \
	done
	touch $@
