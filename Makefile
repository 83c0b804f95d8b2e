# pg → DynamoDB: every stage is a CLI; this file only wires them up. Stage
# recipes are silent (@) so `make report ARGS="--format json" | jq` reads JSON alone.
# Variables (flags or environment): DATABASE_URL (or PG*), STORE, RUN, TABLE,
# CONCURRENCY, SCALE, MODEL (a directory of your own entities); load adds DDB_TABLE and MODE. `make up` writes
# .local/env: `set -a; . .local/env; set +a` points a shell at the local stack.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
export MODEL STORE RUN TABLE CONCURRENCY SCALE DDB_TABLE MODE PG_URL STACK_DIR SPLIT_ROWS UNMAPPED SAMPLE STAGE SHARD SNAPSHOT FORMAT LOCK_WAIT_TIMEOUT VERBOSE STORE_TIMEOUT FOLLOW LIVE COMPRESSION

# The stages run from the build (dist/, `npm run build`, which install runs); NODE runs the
# development scripts (stack, golden, bench) from source through tsx.
NODE := node --import tsx/esm
# A model of one's own (MODEL=dir) is TypeScript the build has not seen: tsx loads it (Node 20 has no type stripping).
STAGE_NODE := node --enable-source-maps $(if $(MODEL),--import tsx/esm)
# verify and plan hold a fixed working set whatever the run's size (sorted runs on disk, one key budget);
# a capped V8 heap keeps their RSS flat too, where V8 would let garbage grow it with the run
# (plan: 202 → 340 MB peak RSS at 4× the data uncapped; with a 128 MB old space 191 → 201 MB). 128 MB at the
# default CONCURRENCY=4, 8 MB more per worker (a Scan page in flight each); bench.ts runs them alike.
# A CONCURRENCY that is not a number counts as 4 here; the CLI then refuses it, quoting it.
FLAT_HEAP := --max-old-space-size=$$(c=$${CONCURRENCY:-4}; [[ $$c =~ ^[0-9]+$$ ]] || c=4; echo $$((96 + 8 * c)))
STACK := $(NODE) scripts/stack.ts

.PHONY: help install tools up down stack-status status extract snapshot finalize scaffold transform load verify catchup cutover plan report iam-policy aws-probe test test-faults typecheck demo dumps golden bench bench-extract bench-parquet-writers clean

help:
	@echo "make demo       install, boot the local stack, run the pipeline end to end (LIVE=1: from a replication slot, then catchup and cutover)"
	@echo "make test       typecheck and run the whole test suite on a private local stack"
	@echo "make up | down  start / stop the local stack (writes .local/env; SCALE=n for bench data; make stack-status)"
	@echo "make status     where \$$RUN stands: per table, extract / transform / load / verify done, stale, missing or failed, and the next command"
	@echo "make extract    COPY every table to \$$STORE/\$$RUN/extract/ (TABLE=t for one table; FORMAT=csv|parquet|both; FOLLOW=1 for a live source)"
	@echo "make transform  turn \$$STORE/\$$RUN/extract/ into DynamoDB JSON items (TABLE=t for one table; FORMAT=parquet reads a both extract's Parquet; MODEL=dir: your own entities)"
	@echo "make scaffold   write a starting entity file per source table into MODEL=dir (generic keys, every column typed), to edit into your own model"
	@echo "make snapshot   sharded extract: hold one snapshot and write its plan until Ctrl-C (then SHARD=i/n make extract | transform)"
	@echo "make finalize   sharded run: merge the shards' fragments (STAGE=extract|transform|verify, default each as found)"
	@echo "make load       put \$$STORE/\$$RUN/items/ into DynamoDB table \$$DDB_TABLE (MODE=import|batch; TABLE=t upserts one table, ARGS=--prune)"
	@echo "make verify     prove the table equals the run and answers like the source database (SHARD=i/n, then make finalize STAGE=verify)"
	@echo "make catchup    FOLLOW=1 runs: apply the source's changes since the snapshot to \$$DDB_TABLE (ARGS=--until-lag 0 | --drop-slot)"
	@echo "make cutover    FOLLOW=1 runs: drain with writers stopped, verify a fresh run against the table, go / no-go"
	@echo "make plan       what \$$RUN will hold and cost in DynamoDB: a table, plan.json and plan.html (SAMPLE=0.1 reads a tenth)"
	@echo "make report     the whole run (extract → transform → load → verify): a table and report.html"
	@echo "make iam-policy the least-privilege IAM policy per stage (STORE=s3://…, RUN, DDB_TABLE, AWS_REGION, STAGE=extract|transform|load|verify|catchup|cutover|all; STAGE=orchestration: the Step Functions and execution roles)"
	@echo "make aws-probe  ImportTable's edge cases on a real account next to the local endpoint's expectations (STORE=s3://…; costs cents)"
	@echo "make test-faults every fault, hostile-input and secrets case on a private stack, as a table"
	@echo "make bench      measure every stage against its baseline (SCALE=1 ≈ 1 GB of CSV)"
	@echo "make bench-extract  extract vs raw COPY and psql | gzip/zstd (SCALE, ROUNDS)"
	@echo "make bench-parquet-writers  our Parquet writer against the maintained JavaScript writers (ROWS=n)"
	@echo "make dumps      regenerate fixtures/dumps/ and fixtures/hostile/dumps/ from the fixture databases"
	@echo "make golden     regenerate fixtures/golden/ and fixtures/hostile/golden/ from the dumps"

# npm ci only when the lockfile changed since the last install.
node_modules/.installed: package-lock.json
	@echo "npm ci (package-lock.json changed)" >&2; npm ci --no-audit --no-fund >&2
	@touch $@

# The build again when a source of it changed (build.json is written last, so a failed build reruns).
# The folders too: a removed or renamed file (mv keeps its time) changes only its folder's time.
BUILD_SOURCES := $(shell find lib/ model/ extract/ transform/ load/ verify/ plan/ catchup/ \( -type d -o -name '*.ts' ! -name '*.test.ts' \)) scripts/build.ts scripts/has-shards.ts package.json
dist/build.json: node_modules/.installed $(BUILD_SOURCES)
	@npm run --silent build >&2

install: node_modules/.installed dist/build.json

# Programs the test suite drives besides node's (Debian package = command name):
# zstd (the ImportTable endpoint's ZSTD input), chromium (plan.html's screenshot test).
TOOLS := zstd chromium
tools:
	@for tool in $(TOOLS); do command -v $$tool >/dev/null && continue; \
	  if command -v apt-get >/dev/null; then echo "installing $$tool (apt-get)"; apt-get update -qq && apt-get install -y -qq $$tool >/dev/null || exit 1; \
	  else echo "make test needs the program $$tool: install it with your package manager"; exit 1; fi; done

up: install
	$(STACK) up

down:
	$(STACK) down

stack-status:
	$(STACK) status

# Where run $(RUN) stands, per table and stage, and the next command (--json for scripts).
status: install
	@$(STAGE_NODE) dist/plan/run-status-cli.js $(ARGS) || [ $$? = 3 ]  # 3: work remains, which status has just said

extract: install
	@$(STAGE_NODE) dist/extract/cli.js $(ARGS)

# The coordinator of a sharded extract (docs/scale-out.md): runs until Ctrl-C / SIGTERM.
snapshot: install
	@$(STAGE_NODE) dist/extract/cli.js snapshot --hold $(ARGS)

# Merges shard fragments: extract's and transform's into their manifests, verify's into its report, each if it was sharded.
finalize: install
	@stages="$(or $(STAGE),extract transform verify)"; done=0; \
	for stage in $$stages; do \
	  cli=dist/$$stage/cli.js; [ $$stage = verify ] && cli="$(FLAT_HEAP) dist/verify/cli.js"; \
	  if [ -n "$(STAGE)" ] || $(STAGE_NODE) dist/scripts/has-shards.js "$$stage"; then $(STAGE_NODE) $$cli finalize $(ARGS) || exit $$?; done=1; fi; \
	done; [ $$done = 1 ] || { echo "make finalize: no shard fragments in $${STORE:-./out}/$${RUN:-dev} (STAGE=extract|transform|verify to name one)"; exit 1; }

typecheck: install
	npx tsc --noEmit

# The suite runs on its own stack (.local/test) so it never touches `make up`'s.
# PG_URL=postgres://… runs it against that server instead of embedded PostgreSQL.
test: typecheck tools install
	STACK_DIR=$(CURDIR)/.local/test $(STACK) run -- npx ava

# The fault, bad-input and secrets cases on a private stack, then one table row per case.
test-faults: typecheck tools install
	STACK_DIR=$(CURDIR)/.local/test $(STACK) run -- $(NODE) scripts/fault-table.ts

demo: install
	bash scripts/demo.sh

# Rewrites the committed COPY output of the fixture database (reviewers read the diff).
dumps: install
	STACK_DIR=$(CURDIR)/.local/test $(STACK) run -- $(NODE) scripts/dumps.ts

clean: down
	rm -rf .local out

transform: install
	@$(STAGE_NODE) dist/transform/cli.js $(ARGS)

# A model of your own: one entity file per table of the source (DATABASE_URL or PG*) into MODEL=dir.
scaffold: install
	@$(NODE) scripts/scaffold.ts

load: install
	@$(STAGE_NODE) dist/load/cli.js $(ARGS)

verify: install
	@$(STAGE_NODE) $(FLAT_HEAP) dist/verify/cli.js $(ARGS)

# Live source (FOLLOW=1 runs): apply the slot's changes to $(DDB_TABLE) (ARGS=--until-lag 0, ARGS=--drop-slot).
catchup: install
	@$(STAGE_NODE) dist/catchup/cli.js $(ARGS)

# The switch: lag check, writers stopped, drain, fresh extract + transform verified against the table: go / no-go.
cutover: install
	@$(STAGE_NODE) dist/catchup/cutover-cli.js $(ARGS)

# The whole run as its stages recorded it (<run>/report.json), as a table and report.html.
report: install
	@$(STAGE_NODE) dist/plan/run-report-cli.js $(ARGS)

# The least-privilege IAM policy of each stage for STORE=s3://…, RUN, DDB_TABLE, AWS_REGION
# (STAGE=extract|transform|load|verify|catchup|cutover, default all; MODE=import|batch|both; ARGS=--account-id … --kms-key-id …;
# cutover also runs extract, transform and verify on its fresh run: ARGS=--fresh-run … when it is not <run>-cutover).
iam-policy: install
	@$(STAGE_NODE) dist/plan/iam-policy-cli.js --stage $(or $(STAGE),all) $(ARGS)

# One small import per edge case the local ImportTable endpoint had to guess, answered by the
# account the AWS credentials name, beside the endpoint's expectations; exit 1 on any difference.
# Creates and deletes its own tables and its objects under STORE=s3://…/aws-probe-…/ (needs zstd).
aws-probe: install
	@$(NODE) scripts/aws-probe.ts

# Sizes, collections, GSI keys and the cost model of a transform run; prices in lib/prices.json.
plan: install
	@$(STAGE_NODE) $(FLAT_HEAP) dist/plan/cli.js $(ARGS)

# Rewrites fixtures/golden/ and fixtures/hostile/golden/ from the dumps (reviewers read the diff).
golden: install
	$(NODE) scripts/golden.ts

# Benchmarks (not part of make test): SCALE=1 ≈ 1M processing_jobs rows; BENCH_4X=0 skips the 4× memory run.
bench: up install
	$(NODE) bench/bench.ts

# Extract against the server's raw COPY floor and psql | gzip -1 / zstd -1, same parts and concurrency, median of 3
# (bench/extract-floor-results.md); SCALE=n, ROUNDS=n.
bench-extract: up install
	$(NODE) bench/extract-floor.ts

# Our Parquet writer against hyparquet-writer, @dsnp/parquetjs and parquet-wasm on the README's contract (no stack needed;
# the candidates are installed outside the repo, see the top of bench/parquet-writers.ts); ROWS=n (default 100000).
bench-parquet-writers: install
	$(NODE) bench/parquet-writers.ts
