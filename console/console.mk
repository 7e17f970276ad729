# The web console's browser libraries (htmx, its SSE extension, mermaid), pinned in
# console/package-lock.json and installed with `npm ci` into console/node_modules (git-ignored),
# from where the management API serves the few files it needs under /ui/vendor/.
# Included by the root Makefile.
CONSOLE := console
CONSOLE_STAMP := $(CONSOLE)/node_modules/.installed

.PHONY: console-assets

$(CONSOLE_STAMP): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund
	touch $@

console-assets: $(CONSOLE_STAMP)

# The platform serves the console, and the browser tests load it: both need the assets.
run demo unit test-daprd bench: $(CONSOLE_STAMP)
