# test-systemd: the service unit passes `systemd-analyze verify`, and
# `systemd-analyze security` rates its exposure at 2.0 or lower (the "OK"
# band; edged.service scores 1.4). Both run offline against a small root
# holding the unit, systemd's own units and the binaries the unit names,
# so no running systemd is needed (CI runs in a container).

SYSTEMD_ROOT := build/systemd-root
# Exposure threshold, in tenths: 20 means 2.0.
SYSTEMD_MAX_EXPOSURE ?= 20

.PHONY: test-systemd
test-systemd: build
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing: make deps (Debian package systemd)"; exit 1; }
	@rm -rf $(SYSTEMD_ROOT) && mkdir -p $(SYSTEMD_ROOT)/usr/bin $(SYSTEMD_ROOT)/bin $(SYSTEMD_ROOT)/lib/systemd $(SYSTEMD_ROOT)/etc/systemd/system
	@cp -r /lib/systemd/system $(SYSTEMD_ROOT)/lib/systemd/
	@cp bin/edged $(SYSTEMD_ROOT)/usr/bin/edged
	@cp /bin/kill $(SYSTEMD_ROOT)/bin/kill
	@cp systemd/edged.service $(SYSTEMD_ROOT)/etc/systemd/system/
	systemd-analyze verify --root=$(SYSTEMD_ROOT) edged.service
	@systemd-analyze security --offline=true --root=$(SYSTEMD_ROOT) --threshold=$(SYSTEMD_MAX_EXPOSURE) edged.service \
		> build/systemd-security.txt 2>&1 || { cat build/systemd-security.txt; echo "edged.service: exposure above $(SYSTEMD_MAX_EXPOSURE)/10"; exit 1; }
	@tail -n 1 build/systemd-security.txt
