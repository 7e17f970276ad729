# Dapr's runtime binaries (daprd, placement, scheduler) built from Dapr's Go modules by the Go
# module in this folder; see README.md. Include it from the root Makefile:
#   include tools/dapr/dapr.mk
# `make daprd` builds all three into .bin/dapr/ (git-ignored); they are rebuilt only when
# go.mod, go.sum, a .go file of this module or this file changes.

DAPR_MOD_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
DAPR_BIN_DIR := $(abspath $(DAPR_MOD_DIR)/../../.bin/dapr)
DAPR_BINS := $(DAPR_BIN_DIR)/daprd $(DAPR_BIN_DIR)/placement $(DAPR_BIN_DIR)/scheduler
# The pinned github.com/dapr/dapr version, read from go.mod (stamped into the binaries).
DAPR_VERSION := $(shell sed -n 's|^[[:space:]]*github.com/dapr/dapr v||p' $(DAPR_MOD_DIR)/go.mod)
DAPR_SOURCES := $(DAPR_MOD_DIR)/go.mod $(DAPR_MOD_DIR)/go.sum $(DAPR_MOD_DIR)/dapr.mk \
	$(shell find $(DAPR_MOD_DIR) -name '*.go')
# The same -X flags as Dapr's own Makefile, so `daprd --version` prints the pinned version.
DAPR_LDFLAGS := -s -w \
	-X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION) \
	-X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$(DAPR_VERSION) \
	-X github.com/dapr/kit/logger.DaprVersion=$(DAPR_VERSION)

.PHONY: daprd dapr-clean

daprd: $(DAPR_BINS)

# One `go build` for the three main packages (they share most of their packages). The
# module cache is filled first by `go mod download`; -mod=readonly then makes the build fail,
# rather than edit go.mod or go.sum, if they do not already pin every module it needs.
# CGO_ENABLED=0: state.sqlite uses modernc.org/sqlite (pure Go), so the binaries are static.
$(DAPR_BINS) &: $(DAPR_SOURCES)
	@mkdir -p $(DAPR_BIN_DIR)
	cd $(DAPR_MOD_DIR) && go mod download
	cd $(DAPR_MOD_DIR) && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
		-ldflags "$(DAPR_LDFLAGS)" -o $(DAPR_BIN_DIR)/ \
		./cmd/daprd github.com/dapr/dapr/cmd/placement github.com/dapr/dapr/cmd/scheduler
	@touch $(DAPR_BINS)

dapr-clean:
	rm -rf $(DAPR_BIN_DIR)
