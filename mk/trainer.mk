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
# test-python-torch2  the whole suite on current PyPI torch/torchvision
#                (trainer/requirements-torch2.txt) in build/torch2-venv, which
#                does not see Debian's torch: what GPU hosts run. On demand,
#                not in `make test`: ~3 GB of wheels (cached by pip), about
#                15 minutes on 2 cores. TORCH2_REPORT gets each export's
#                float and int8 accuracy (compare with `make test-python`'s
#                build/torch1-report.json).

VENV        := .venv
VENV_STAMP  := $(VENV)/.edged-train.stamp
SYS_PYTHON  ?= /usr/bin/python3
DEFAULT_TFLITE := models/efficientnet_lite0_int8.tflite

.PHONY: venv default-model test-python test-python-heavy test-python-torch2
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
	EDGED_TRAIN_REPORT=$(CURDIR)/build/torch1-report.json $(PY) -m pytest trainer/tests -q -rs --durations=8 -p no:cacheprovider

TORCH2_VENV  := build/torch2-venv
TORCH2_PY    := $(TORCH2_VENV)/bin/python
TORCH2_STAMP := $(TORCH2_VENV)/.torch2.stamp
TORCH2_REPORT ?= $(CURDIR)/build/torch2-report.json

$(TORCH2_STAMP): trainer/requirements-torch2.txt trainer/requirements.txt trainer/pyproject.toml | deps-test
	test -x $(TORCH2_PY) || $(SYS_PYTHON) -m venv $(TORCH2_VENV)
	$(TORCH2_PY) -m pip install -q --disable-pip-version-check -r trainer/requirements-torch2.txt
	$(TORCH2_PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e trainer
	$(TORCH2_PY) -c 'import torch, torchvision, numpy, tensorflow, edged_train; print("torch2 venv ok: torch", torch.__version__, "torchvision", torchvision.__version__, "numpy", numpy.__version__)'
	@du -sh $(TORCH2_VENV) | sed 's/^/torch2 venv size: /'
	@touch $@

test-python-torch2: $(TORCH2_STAMP) build
	EDGED_TRAIN_REPORT=$(TORCH2_REPORT) $(TORCH2_PY) -m pytest trainer/tests -q -rs --durations=8 -p no:cacheprovider
	@if [ -f build/torch1-report.json ]; then $(SYS_PYTHON) trainer/tests/compare_reports.py build/torch1-report.json $(TORCH2_REPORT); \
	else echo "no build/torch1-report.json to compare with: run make test-python (Debian's torch) first"; fi

test-python-heavy: venv
	EDGED_TRAIN_HEAVY=1 $(PY) -m pytest trainer/tests -q -rs --durations=12 -p no:cacheprovider
