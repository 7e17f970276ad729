# The JavaScript SDK's worker of tests/fidelity (@dapr/dapr, pinned in package-lock.json),
# installed with `npm ci` before the tests run. Included by the root Makefile.
FIDELITY_JS := tests/fidelity/js
FIDELITY_JS_STAMP := $(FIDELITY_JS)/node_modules/.installed

.PHONY: fidelity-js

$(FIDELITY_JS_STAMP): $(FIDELITY_JS)/package.json $(FIDELITY_JS)/package-lock.json
	cd $(FIDELITY_JS) && npm ci --no-audit --no-fund
	touch $@

fidelity-js: $(FIDELITY_JS_STAMP)

# The test run needs it: `make unit` (and so `make test`) installs it first.
unit: $(FIDELITY_JS_STAMP)
