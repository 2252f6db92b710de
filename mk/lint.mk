# lint: go vet, staticcheck and govulncheck, pinned. govulncheck runs
# offline against a vulnerability database built from the
# golang.org/x/vulndb module (its data/osv folder) with that module's own
# indexdb command, since the database's web address is not reachable from
# build machines. Tools land in build/tools, the database in build/vulndb.

STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
TOOLS               := $(CURDIR)/build/tools
VULNDB              := $(CURDIR)/build/vulndb

.PHONY: lint staticcheck govulncheck
lint: vet staticcheck govulncheck

$(TOOLS)/staticcheck-$(STATICCHECK_VERSION):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

$(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	@touch $@

$(VULNDB)/.$(VULNDB_VERSION):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)
	@rm -rf $(VULNDB)
	$(TOOLS)/indexdb -vulns "$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv" -out $(VULNDB)
	@touch $@

staticcheck: $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
	$(TOOLS)/staticcheck -version
	$(TOOLS)/staticcheck ./...

govulncheck: $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION) $(VULNDB)/.$(VULNDB_VERSION)
	$(TOOLS)/govulncheck -version | grep -E 'Scanner|DB updated' || true
	$(TOOLS)/govulncheck -db file://$(VULNDB) ./...
