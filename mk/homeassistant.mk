# A real Home Assistant for the integration test (cmd/edged/homeassistant_test.go,
# docs/homeassistant.md).
#
# ha-venv  build/ha-venv with tools/homeassistant/requirements.txt: Home
#          Assistant 2024.3.3 and the requirements of the integrations it
#          loads, so the test runs it with --skip-pip and nothing is fetched
#          at run time. About 4 minutes from a cold pip cache; part of `make test`.

HA_VENV  := build/ha-venv
HA_STAMP := $(HA_VENV)/.ha.stamp

.PHONY: ha-venv
ha-venv: $(HA_STAMP)
$(HA_STAMP): tools/homeassistant/requirements.txt | deps-test
	test -x $(HA_VENV)/bin/python || $(SYS_PYTHON) -m venv $(HA_VENV)
	$(HA_VENV)/bin/python -m pip install -q --disable-pip-version-check -r tools/homeassistant/requirements.txt
	$(HA_VENV)/bin/hass --version
	@touch $@
