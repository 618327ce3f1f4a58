# keyhive: see README.md. Every target installs what it needs into project-local places.
.PHONY: dev test fuzz bench build zip fmt clippy clean

dev: ## the whole API on http://127.0.0.1:9000 over DynamoDB Local and moto
	@bash scripts/dev.sh

test: ## every check and test against a private local stack
	@bash scripts/test.sh

fuzz: ## a long schemathesis run (2000+ cases) against a private local stack
	@bash scripts/fuzz.sh

bench: ## figures (criterion, stack measurements, zip sizes) into target/bench-report.json
	@bash scripts/bench.sh

build:
	cargo build --workspace

zip: ## release zips for Lambda (arm64), under target/lambda/<function>/bootstrap.zip
	@bash -c '. scripts/stack.sh && ensure_venv && export PATH="$$VENV/bin:$$PATH" && \
	  cargo lambda build --release --arm64 --output-format zip $$(for f in functions/*/; do printf -- "-p %s " "$$(basename $$f)"; done)'

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf .venv node_modules
