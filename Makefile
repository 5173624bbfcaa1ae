# The two commands of the README are `make lab` and `make test`.
GO ?= go
BIN := $(CURDIR)/bin/switchyard
export SWITCHYARD_BIN := $(BIN)

.PHONY: deps build lab test test-short bench
deps:
	bash scripts/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/switchyard

## lab: start the local lab and deploy the sample apps (main job)
lab: deps build
	$(BIN) lab up --demo

## test: the whole test suite, integration tests against real labs included
# The race detector also runs over the concurrent packages (followers, fleet,
# executor, control socket, journal, lb sync, the lab's Marathon and node
# agents, deploy).
RACE_PKGS := ./traffic/... ./migrate/ ./migrate/control/ ./migrate/edge/ ./journal/... ./lbsync/ ./lab/marathon/ ./lab/nodeagent/ ./deploy/ ./serve/ ./bundle/
test: deps build
	$(GO) test -count=1 -timeout 60m ./...
	$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)

## test-short: the fast loop: every pure and unit test, and no lab, nginx,
# etcd/kube-apiserver, lab Marathon task or wrk (those tests skip under
# -short; make test and CI run them). Needs no deps.
test-short:
	$(GO) test -short -count=1 ./...

bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
