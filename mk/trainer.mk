# The Python training companion (trainer/) and edged's default model.
#
# venv           .venv/ with Debian's CPU torch (system site packages) and the
#                pinned wheels of trainer/requirements.txt; edged-train installed
#                editable. A stamp makes reruns instant. Set PIP_FIND_LINKS=DIR
#                to install from downloaded wheels.
# default-model  re-run `edged-train export-imagenet` into models/ and say
#                whether the result is bit-identical to the committed model.
# test-python    the trainer's pytest suite (CPU; uses bin/edged when built).
# test-python-heavy  the same plus AlexNet/VGG exports (4096-wide dense
#                layers: minutes each in TF's converter).

VENV        := .venv
VENV_STAMP  := $(VENV)/.edged-train.stamp
SYS_PYTHON  ?= /usr/bin/python3
DEFAULT_TFLITE := models/efficientnet_lite0_int8.tflite

.PHONY: venv default-model test-python test-python-heavy
venv: $(VENV_STAMP)
$(VENV_STAMP): trainer/requirements.txt trainer/pyproject.toml | deps-test
	@$(SYS_PYTHON) -c 'import torch, torchvision' 2>/dev/null || { \
		echo "Debian's CPU torch is missing: apt-get install python3-torch python3-torchvision (make deps)"; exit 1; }
	test -x $(PY) || $(SYS_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r trainer/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e trainer
	$(PY) -c 'import torch, tensorflow, ai_edge_litert, edged_train; print("venv ok: torch", torch.__version__, "tensorflow", tensorflow.__version__)'
	@touch $@

default-model: venv
	@mkdir -p build
	@git show HEAD:$(DEFAULT_TFLITE) > build/committed_default.tflite 2>/dev/null || cp $(DEFAULT_TFLITE) build/committed_default.tflite
	$(VENV)/bin/edged-train export-imagenet --out models
	@if cmp -s build/committed_default.tflite $(DEFAULT_TFLITE); then \
		echo "default-model: $(DEFAULT_TFLITE) is bit-identical to the committed file ($$(sha256sum < $(DEFAULT_TFLITE) | cut -c1-16)...)"; \
	else \
		echo "default-model: $(DEFAULT_TFLITE) DIFFERS from the committed file: committed $$(sha256sum < build/committed_default.tflite | cut -c1-16)..., new $$(sha256sum < $(DEFAULT_TFLITE) | cut -c1-16)...; see models/README.md (reproducibility)"; \
	fi

test-python: venv
	$(PY) -m pytest trainer/tests -q -rs --durations=8 -p no:cacheprovider

test-python-heavy: venv
	EDGED_TRAIN_HEAVY=1 $(PY) -m pytest trainer/tests -q -rs --durations=12 -p no:cacheprovider
