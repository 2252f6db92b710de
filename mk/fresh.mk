# check-fresh: the README's two commands on a fresh Debian 12 root (see
# tools/check-fresh.sh): a bookworm minbase root with git, make and the Go
# toolchain, a clean clone of HEAD, then `make demo` and `CI=true make test`
# inside it. On demand, not in `make test`: it installs everything from
# nothing (most of an hour on 2 cores). Run it before resolving any change
# to what gets installed. Results in build/check-fresh/report.txt.

.PHONY: check-fresh
check-fresh: deps-fresh
	$(SUDO) env FRESH_DIR=$(CURDIR)/build/check-fresh PATH="$(dir $(shell command -v $(GO))):$$PATH" tools/check-fresh.sh
