#!/usr/bin/env bash
# make bench: figures, not timed tests. Measures on this machine in one run and writes
# target/bench-report.json (printed at the end). Loopback only, bounded in count and time.
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
cd "$ROOT"
ensure_tools
trap 'stop_started' EXIT
trap 'exit 130' INT TERM
RUN="$ROOT/target/bench-stack"; rm -rf "$RUN"; mkdir -p "$RUN"
# The console function compiles the console's build in: build it first.
ensure_console

log "verify_key (criterion)"
cargo bench -p keyhive --bench verify_key --quiet -- --warm-up-time 2 --measurement-time 5 verify_key
log "request CPU over canned SDK answers: the authorizer, keys GET /v1/keys/self, a links redirect (criterion)"
cargo bench -p authorizer --bench authorizer_cpu --quiet -- --warm-up-time 2 --measurement-time 5
cargo bench -p keys --bench keys_self_cpu --quiet -- --warm-up-time 2 --measurement-time 5 keys_self_cpu
cargo bench -p links --bench redirect_cpu --quiet -- --warm-up-time 2 --measurement-time 5 links_redirect_cpu
cargo bench -p files --bench qr_render --quiet -- --warm-up-time 2 --measurement-time 5 qr_render

log "release arm64 zips"
make --no-print-directory zip >"$RUN/zip.log" 2>&1 || { tail -20 "$RUN/zip.log"; die "make zip failed"; }

log "init time and peak memory per function (native release builds, minimal Runtime API on loopback)"
# Every function crate (the folders under functions/, as make zip builds them), and the
# hello-world baseline.
packages=()
for f in functions/*/; do packages+=(-p "$(basename "$f")"); done
cargo build --release --quiet "${packages[@]}" -p hello-lambda --bins
"$VENV/bin/python" scripts/tests/runtime_bench.py target/release "$RUN/runtime.json"

log "stack figures against DynamoDB Local and moto"
start_private_stack "$RUN"
cargo run --quiet --profile measure -p keyhive-bench > "$RUN/stack.json"

log "the console: first-load size, and Lighthouse accessibility and best practices per page (Chromium)"
ensure_chromium
ensure_npm_packages "$ROOT/tools/console-bench"
CONSOLE_URL="$KEYHIVE_E2E_URL/console" API_URL="$KEYHIVE_E2E_URL" ADMIN_KEY="$(cat "$RUN/admin-key")" CHROMIUM="$CHROMIUM" \
  OUT="$RUN/lighthouse.json" node tools/console-bench/lighthouse.mjs

log "cold first request: process start to the first authenticated answer, DynamoDB through a TLS front"
start_tls_front "$RUN"
AWS_ENDPOINT_URL_DYNAMODB="https://localhost:$TLS_PORT" KEYHIVE_EXTRA_CA_FILE="$RUN/tls-ca.pem" \
  BENCH_KEY=$(cat "$RUN/admin-key") "$VENV/bin/python" scripts/tests/runtime_bench.py --cold target/release "$RUN/cold.json"

log "authenticated GET through the local stack (cargo lambda watch), wrk on loopback"
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "wrk is needed (Debian package wrk)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || die "could not install wrk"
fi
URL="$KEYHIVE_E2E_URL/v1/keys/self"
# Warm up, then a bounded run: 16 connections (watch stalls past ~128 at once), 10 s, about
# 10000 requests at most before the key's 10000/min limit would start answering 429.
for _ in $(seq 20); do curl -s -o /dev/null -H "X-API-Key: $(cat "$RUN/admin-key")" "$URL"; done
wrk -t2 -c16 -d10s --latency -H "X-API-Key: $(cat "$RUN/admin-key")" "$URL" > "$RUN/wrk.txt"
cat "$RUN/wrk.txt"

"$VENV/bin/python" - "$RUN/stack.json" "$RUN/runtime.json" "$RUN/wrk.txt" "$RUN/cold.json" "$RUN/lighthouse.json" <<'PY'
import gzip, json, os, re, sys, platform
stack = json.load(open(sys.argv[1]))
runtime = json.load(open(sys.argv[2]))
wrk = open(sys.argv[3]).read()
cold = json.load(open(sys.argv[4]))
def wrk_ms(label):
    m = re.search(r"^\s*" + label + r"\s+([0-9.]+)(us|ms|s)\s*$", wrk, re.M)
    if not m:
        return None
    return round(float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)], 2)
rps = re.search(r"Requests/sec:\s+([0-9.]+)", wrk)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
est = json.load(open("target/criterion/verify_key/new/estimates.json"))
def criterion_us(name):
    return round(json.load(open("target/criterion/%s/new/estimates.json" % name))["median"]["point_estimate"] / 1000, 1)
# The console's first load: the page's own scripts, style sheets and module preloads, raw and
# gzipped (what a browser downloads before the first page shows).
page = open("console/dist/index.html").read()
first_load = sorted(set(re.findall(r'(?:src|href)="/console/assets/([^"]+\.(?:js|css))"', page)))
first_load_bytes = [open(os.path.join("console/dist/assets", name), "rb").read() for name in first_load]
lighthouse = json.load(open(sys.argv[5]))
zips = {}
# Every function crate's binary, and the non-HTTP workers beside them.
binaries = set(os.listdir("functions")) | {"sandbox-sweep", "webhook-dispatcher", "usage-aggregator", "click-aggregator", "key-notices"}
for fn in sorted(os.listdir("target/lambda")):
    z = os.path.join("target/lambda", fn, "bootstrap.zip")
    if os.path.exists(z) and fn in binaries:
        zips[fn] = os.path.getsize(z)
report = {
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    "verify_key_ns_median": round(est["median"]["point_estimate"], 1),
    "authorizer_cpu_us_median": criterion_us("authorizer_cpu"),
    "sdk_call_cpu_us_median": criterion_us("sdk_call_cpu"),
    "function_cpu_us_median": {"keys_self": criterion_us("keys_self_cpu"), "links_redirect": criterion_us("links_redirect_cpu")},
    "qr_render_us_median": criterion_us("qr_render"),
    "round_trips_per_authenticated_request": stack["round_trips_per_authenticated_request"],
    "authorizer_over_getitem_ratio": stack["authorizer_over_getitem_ratio"],
    "round_trips_per_sandbox_create": stack["round_trips_per_sandbox_create"],
    "round_trips_per_redirect": stack["round_trips_per_redirect"],
    "round_trips_per_head_redirect": stack["round_trips_per_head_redirect"],
    "write_units_per_redirect": stack["write_units_per_redirect"],
    "round_trips_per_preview_card": stack["round_trips_per_preview_card"],
    "write_units_per_preview_card_longest": stack["write_units_per_preview_card_longest"],
    "event_to_delivery_ms_median": stack["event_to_delivery_ms_median"],
    "usage_lag_ms_median": stack["usage_lag_ms_median"],
    "verify_median_us": stack["verify_median_us"],
    "round_trips_per_verification": stack["round_trips_per_verification"],
    "verify_wrong_secret_median_us": stack["verify_wrong_secret_median_us"],
    "verify_unknown_id_median_us": stack["verify_unknown_id_median_us"],
    "verify_not_found_ratio": stack["verify_not_found_ratio"],
    "authorizer_over_updateitem_ratio": stack["authorizer_over_updateitem_ratio"],
    "updateitem_median_us": stack["updateitem_median_us"],
    "write_units_per_authenticated_request": stack["write_units_per_authenticated_request"],
    "read_units_per_authenticated_request": stack["read_units_per_authenticated_request"],
    "authorizer_median_us": stack["authorizer_median_us"],
    "getitem_median_us": stack["getitem_median_us"],
    "zip_bytes": zips,
    "init_ms_median": runtime["init_ms_median"],
    "hello_init_ms_median": runtime["hello_init_ms_median"],
    "init_over_hello": {fn: round(ms / runtime["hello_init_ms_median"], 2) for fn, ms in runtime["init_ms_median"].items()},
    "init_rounds": runtime["init_rounds"],
    "cold_first_request_ms": cold["cold_first_request_ms"],
    "hello_cold_first_request_ms": cold["hello_cold_first_request_ms"],
    "cold_first_request_over_hello": {fn: round(ms / cold["hello_cold_first_request_ms"], 2)
                                      for fn, ms in cold["cold_first_request_ms"].items()},
    "cold_rounds": cold["cold_rounds"],
    "peak_rss_mb": runtime["peak_rss_mb"],
    "hello_peak_rss_mb": runtime["hello_peak_rss_mb"],
    "console_first_load_files": first_load,
    "console_first_load_kb": round(sum(len(b) for b in first_load_bytes) / 1024, 1),
    "console_first_load_gzip_kb": round(sum(len(gzip.compress(b, 9)) for b in first_load_bytes) / 1024, 1),
    "console_lighthouse": lighthouse["console_lighthouse"],
    "console_lighthouse_failed_audits": lighthouse["console_lighthouse_failed_audits"],
    "local_stack_rps": float(rps.group(1)) if rps else None,
    "local_stack_p50_ms": wrk_ms("50%"),
    "local_stack_p99_ms": wrk_ms("99%"),
    "local_stack_non_2xx": int(non2xx.group(1)) if non2xx else 0,
    "goals": {
        "verify_key_ns_median": "< 2000",
        "round_trips_per_authenticated_request": "1",
        "authorizer_over_getitem_ratio": "<= 1.25",
        "round_trips_per_sandbox_create": "1",
        "round_trips_per_redirect": "1.0 (the one write)",
        "round_trips_per_head_redirect": "1 (the read)",
        "write_units_per_redirect": "1.0",
        "round_trips_per_preview_card": "1.0 (the same one write)",
        "write_units_per_preview_card_longest": "information (120-character title, 300-character description)",
        "event_to_delivery_ms_median": "about 2000 (local loop)",
        "usage_lag_ms_median": "about 300 (local loop polling the stream every 300 ms)",
        "authorizer_over_updateitem_ratio": "<= 1.10",
        "qr_render_us_median": "information (a 600 px PNG with a 200 px logo, CPU only)",
        "round_trips_per_verification": "2 (the verified key's one write, its metadata read at once beside it)",
        "verify_not_found_ratio": "about 1 (a wrong secret and an unknown id take as long)",
        "write_units_per_authenticated_request": "1.0",
        "read_units_per_authenticated_request": "0",
        "zip_bytes": "<= 2500000 each",
        "console_first_load_gzip_kb": "<= 100",
        "console_lighthouse": ">= 95 for accessibility and best practices, every page",
        "authorizer_cpu_us_median": "<= 50",
        "function_cpu_us_median": "<= 50 each",
        "sdk_call_cpu_us_median": "information: one bare UpdateItem through the functions' SDK client over a canned answer, the floor under each figure above",
        "init_over_hello": "<= 1.5 each (start to ready for the first event, median of interleaved rounds)",
        "cold_first_request_over_hello": "<= 2 each (start to the first authenticated answer that reached the store)",
        "peak_rss_mb": "<= 32 each, after 1000 requests",
    },
}
json.dump(report, open("target/bench-report.json", "w"), indent=2)
print(json.dumps(report, indent=2))
PY
