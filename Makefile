# keyhive: see README.md. Every target installs what it needs into project-local places.
.PHONY: help dev test check fuzz bench build zip docs deploy invoke fmt clippy clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F '\t' '{ printf "  make %-8s %s\n", $$1, $$2 }'

dev: ## the whole API on http://127.0.0.1:9000 over DynamoDB Local and moto
	@bash scripts/dev.sh

test: ## every check and test against a private local stack
	@bash scripts/test.sh

check: ## the fast loop: fmt --check, clippy -D warnings, unit tests (no stack, no DynamoDB)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --lib --bins

fuzz: ## a long schemathesis run (2000+ cases) against a private local stack
	@bash scripts/fuzz.sh

bench: ## figures (criterion, stack measurements, zip sizes) into target/bench-report.json
	@bash scripts/bench.sh

build: ## debug build of the whole workspace
	cargo build --workspace

zip: ## release zips for Lambda (arm64), under target/lambda/<function>/bootstrap.zip
	@bash -c '. scripts/lib/stack.sh && ensure_venv && ensure_console && export PATH="$$VENV/bin:$$PATH" && \
	  cargo lambda build --release --arm64 --output-format zip $$(for f in functions/*/; do printf -- "-p %s " "$$(basename $$f)"; done)'

docs: ## openapi.yaml rendered to one HTML page, target/docs/index.html (make dev serves it at /docs)
	@bash scripts/docs.sh

deploy: ## build with SAM and deploy to AWS (guided the first time; see docs/deploy.md)
	@bash scripts/deploy.sh

invoke: ## EVENT=keys-self.json [FUNCTION=keys]: a sample event through the authorizer and a function under make dev
	@bash -c '. scripts/lib/stack.sh && ensure_venv && PATH="$$VENV/bin:$$PATH" python3 scripts/invoke.py "$(EVENT)" $(FUNCTION)'

fmt: ## cargo fmt
	cargo fmt --all

clippy: ## clippy with warnings as errors, as make test runs it
	cargo clippy --workspace --all-targets -- -D warnings

clean: ## remove build output, the .venv and node_modules (not .dev)
	cargo clean
	rm -rf .venv node_modules console/node_modules console/dist
