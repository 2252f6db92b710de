# The TFLite C runtime and the conformance corpus of third-party models.
#
# tflite-lib: libtensorflowlite_c.so 2.9.0 for linux amd64 and arm64 (with
# the XNNPACK delegate) and its C headers, from the npm package
# tfjs-tflite-node@0.0.2 (Apache-2.0), into the ignored third_party/tflite/.
# edged loads the library at run time; see internal/infer/tfliteengine/tflite.

TFLITE_NPM     := tfjs-tflite-node@0.0.2
TFLITE_SHA256  := 3be1632328a76a2475e5b6833253763c802c859433becb4d879ee1860e3b5284
TFLITE_DIR     := third_party/tflite
MEDIAPIPE_DIR  := third_party/mediapipe
MEDIAPIPE_NPM  := @mediapipe/face_detection@0.4.1657300184 @mediapipe/hands@0.4.1675469240 \
	@mediapipe/selfie_segmentation@0.1.1675465747

.PHONY: tflite-lib conformance-models
tflite-lib: $(TFLITE_DIR)/.stamp
$(TFLITE_DIR)/.stamp: mk/tflite.mk | deps-demo
	@command -v npm >/dev/null || { echo "npm is needed to fetch the TFLite runtime: make deps-demo (Debian package npm)"; exit 1; }
	rm -rf $(TFLITE_DIR) && mkdir -p $(TFLITE_DIR)/tmp
	cd $(TFLITE_DIR)/tmp && npm pack --silent $(TFLITE_NPM) >/dev/null
	echo "$(TFLITE_SHA256)  $(TFLITE_DIR)/tmp/tfjs-tflite-node-0.0.2.tgz" | sha256sum -c --quiet
	tar -xzf $(TFLITE_DIR)/tmp/tfjs-tflite-node-0.0.2.tgz -C $(TFLITE_DIR)/tmp
	for a in linux_amd64 linux_arm64; do mkdir -p $(TFLITE_DIR)/$$a && \
		cp $(TFLITE_DIR)/tmp/package/cc_deps/$$a/libtensorflowlite_c.so $(TFLITE_DIR)/$$a/; done
	cp -r $(TFLITE_DIR)/tmp/package/cc_deps/include $(TFLITE_DIR)/include
	cp $(TFLITE_DIR)/tmp/package/LICENSE $(TFLITE_DIR)/LICENSE 2>/dev/null || true
	rm -rf $(TFLITE_DIR)/tmp
	touch $@

# conformance-models: real third-party .tflite files (float, fp16 weights,
# sparse, multi-output, PRELU, and one needing a custom op) from MediaPipe's
# npm packages, for internal/infer/tfliteengine's conformance tests.
conformance-models: $(MEDIAPIPE_DIR)/.stamp
$(MEDIAPIPE_DIR)/.stamp: mk/tflite.mk | deps-demo
	rm -rf $(MEDIAPIPE_DIR) && mkdir -p $(MEDIAPIPE_DIR)/tmp
	cd $(MEDIAPIPE_DIR)/tmp && npm pack --silent $(MEDIAPIPE_NPM) >/dev/null
	for t in $(MEDIAPIPE_DIR)/tmp/*.tgz; do tar -xzf $$t -C $(MEDIAPIPE_DIR)/tmp && \
		cp $(MEDIAPIPE_DIR)/tmp/package/*.tflite $(MEDIAPIPE_DIR)/ && \
		$(MAKE) --no-print-directory -f mk/tflite.mk mediapipe-packed PKG=$(MEDIAPIPE_DIR)/tmp/package && \
		rm -rf $(MEDIAPIPE_DIR)/tmp/package; done
	rm -rf $(MEDIAPIPE_DIR)/tmp
	touch $@

# mediapipe-packed (called by conformance-models) cuts the .tflite files out
# of a package's *_packed_assets.data, at the byte ranges its loader script
# lists: @mediapipe/hands packs its palm detection models (PRELU) there.
.PHONY: mediapipe-packed
mediapipe-packed:
	@for l in $(PKG)/*_packed_assets_loader.js; do [ -f "$$l" ] || continue; \
		grep -o '"filename": *"[^"]*[.]tflite", *"start": *[0-9]*, *"end": *[0-9]*' "$$l" | \
		sed 's/.*"filename": *"\([^"]*\)", *"start": *\([0-9]*\), *"end": *\([0-9]*\)/\1 \2 \3/' | \
		while read f s e; do \
			tail -c +$$((s + 1)) "$${l%_loader.js}.data" | head -c $$((e - s)) > $(MEDIAPIPE_DIR)/$$(basename "$$f"); \
			echo "$(MEDIAPIPE_DIR)/$$(basename "$$f"): bytes $$s-$$e of $$(basename "$${l%_loader.js}.data")"; \
		done; \
	done

# test-modelfile-32bit runs the pure-Go model checker's tests with 32-bit
# ints (as on 32-bit Raspberry Pi OS), where an unsigned offset read into an
# int can turn negative. GOARCH=386 runs natively on amd64 hosts.
# fuzz-modelfile fuzzes the checker (FUZZTIME, default 3m).
.PHONY: test-modelfile-32bit fuzz-modelfile
FUZZTIME ?= 3m
test-modelfile-32bit:
	GOARCH=386 CGO_ENABLED=0 $(GO) test -count=1 ./internal/modelfile ./internal/infer
fuzz-modelfile:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/modelfile
