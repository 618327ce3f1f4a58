"""A minimal Lambda Runtime API on loopback, for make bench.

For each bootstrap binary: start it with AWS_LAMBDA_RUNTIME_API pointing here and only the
environment Lambda gives a function (no SSL_CERT_*, no HOME), time process
start -> first answered event (init_ms, median of several cold starts), then serve it N more
events and read its peak RSS (VmHWM). Events need no I/O (an unknown path, a malformed key), so
the figures are the function's own start-up and steady memory, not DynamoDB's.
Loopback only, bounded in count and time.

With --cold (run against the bench stack): cold_first_request_ms, process start to the answer of
the first *authenticated* request that reaches the store, DynamoDB behind the TLS front (the
compiled-in roots plus the front's CA), the hashing secret from moto: nothing that init might
leave to the first request escapes the figure. hello-world's start-to-first-answer is beside it.
"""
import json, os, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Runtime:
    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.answered = threading.Event()
        self.count = 0
        self.lock = threading.Lock()
        self.first_answer = None

def make_handler(rt):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass
        def do_GET(self):
            if self.path.endswith("/invocation/next"):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-%d" % time.monotonic_ns())
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(rt.event)))
                self.end_headers()
                try:
                    self.wfile.write(rt.event)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the process was killed while waiting for its next event
            else:
                self.send_response(404); self.end_headers()
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
            if "/invocation/" in self.path:
                with rt.lock:
                    rt.count += 1
                    if rt.first_answer is None:
                        rt.first_answer = (self.path, body)
                rt.answered.set()
    return H

def measure(binary, event, starts, requests, env, check=None):
    inits, rss = [], None
    for i in range(starts):
        rt = Runtime(event)
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(rt))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        e = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1])
        t0 = time.monotonic()
        proc = subprocess.Popen([binary], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not rt.answered.wait(30):
            proc.kill(); server.shutdown()
            raise SystemExit("%s answered no event within 30 s" % binary)
        inits.append((time.monotonic() - t0) * 1000)
        if check:
            check(binary, rt.first_answer)
        if i == starts - 1:
            deadline = time.monotonic() + 120
            while rt.count < requests and time.monotonic() < deadline:
                time.sleep(0.01)
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss = int(line.split()[1]) / 1024
        proc.kill(); proc.wait(); server.shutdown()
    return round(statistics.median(inits), 2), round(rss, 1)

def answered_ok(binary, first):
    """The cold figure counts only a real answer: a 200, or the authorizer's Allow."""
    path, body = first
    if not path.endswith("/response"):
        raise SystemExit("%s failed its first event: %s" % (binary, body[:300]))
    answer = json.loads(body)
    ok = answer.get("statusCode") == 200 or answer.get("policyDocument", {}).get("Statement", [{}])[0].get("Effect") == "Allow"
    if not ok:
        raise SystemExit("%s did not answer its first event with success: %s" % (binary, body[:300]))

def cold(bindir, out):
    """cold_first_request_ms per function, against the stack in the environment."""
    key = os.environ["BENCH_KEY"]
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("AWS_", "KEYHIVE_", "PATH")) and k not in ("AWS_LAMBDA_RUNTIME_API",)}
    env.update({"TZ": ":UTC", "LAMBDA_TASK_ROOT": "/var/task", "_HANDLER": "bootstrap", "RUST_LOG": "warn",
                "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "1"})
    authz = json.load(open("events/authorizer-request.json"))
    authz["headers"]["X-API-Key"] = key
    authz["multiValueHeaders"]["X-API-Key"] = [key]
    # Measured first: the authorizer's own answer gives the context API Gateway would pass on.
    answers = []
    def allowed(binary, first):
        answered_ok(binary, first)
        answers.append(json.loads(first[1]))
    report = {"cold_first_request_ms": {}}
    report["cold_first_request_ms"]["authorizer"], _ = measure(
        os.path.join(bindir, "authorizer"), authz, 5, 1, env, allowed)
    context = dict(answers[0]["context"], principalId=answers[0]["principalId"])
    # One event per function that authenticates and reads the store.
    events = {"health": "health.json", "keys": "keys-self.json", "sandboxes": "sandboxes-list.json",
              "links": "links-list.json", "webhooks": "webhooks-list.json", "console": "console-page.json"}
    for fn, name in events.items():
        event = json.load(open(os.path.join("events", name)))
        if fn not in ("health", "console"):
            event["requestContext"]["authorizer"] = context
        report["cold_first_request_ms"][fn], _ = measure(os.path.join(bindir, fn), event, 5, 1, env, answered_ok)
    hello = json.load(open("events/unknown-path.json"))
    report["hello_cold_first_request_ms"], _ = measure(os.path.join(bindir, "hello-lambda"), hello, 5, 1, env)
    json.dump(report, open(out, "w"))
    print(json.dumps(report))

def main():
    if sys.argv[1] == "--cold":
        return cold(sys.argv[2], sys.argv[3])
    bindir, out = sys.argv[1], sys.argv[2]
    events = json.load(open("events/unknown-path.json"))
    authz = json.load(open("events/authorizer-request.json"))
    # Only what Lambda gives a function (no SSL_CERT_*, no HOME), plus the function's own settings.
    lambda_like = ("AWS_LAMBDA_", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "_HANDLER", "TZ", "KEYHIVE_", "PATH")
    env = {k: v for k, v in os.environ.items() if k.startswith(lambda_like)}
    env.update({"TZ": ":UTC", "LAMBDA_TASK_ROOT": "/var/task", "_HANDLER": "bootstrap",
                "AWS_DEFAULT_REGION": "us-east-1"})
    env.update({"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "1", "RUST_LOG": "warn",
                # Nothing listens here: the events used need no call, and none is made.
                "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9"})
    report = {"init_ms_median": {}, "peak_rss_mb": {}}
    # The files function needs its bucket's name at start (it presigns for it; no call is made).
    env["KEYHIVE_FILES_BUCKET"] = "bench-files"
    console_page = json.load(open("events/console-page.json"))
    for fn in ["health", "authorizer", "keys", "sandboxes", "links", "webhooks", "files", "console"]:
        event = authz if fn == "authorizer" else console_page if fn == "console" else events
        init, rss = measure(os.path.join(bindir, fn), event, 7, 1000, env)
        report["init_ms_median"][fn] = init
        report["peak_rss_mb"][fn] = rss
    # The sweep answers its schedule event with a scan, which fails fast against the closed port
    # (three attempts, short backoff): fewer events, so the run stays bounded.
    schedule = json.load(open("events/schedule.json"))
    init, rss = measure(os.path.join(bindir, "sandbox-sweep"), schedule, 7, 20, env)
    report["init_ms_median"]["sandbox-sweep"] = init
    report["peak_rss_mb"]["sandbox-sweep"] = rss
    # The key notices job answers its schedule event after its day queries fail (closed port).
    init, rss = measure(os.path.join(bindir, "key-notices"), schedule, 7, 20, env)
    report["init_ms_median"]["key-notices"] = init
    report["peak_rss_mb"]["key-notices"] = rss
    # The dispatcher answers its schedule event after failing to fetch its sealing key (closed port).
    init, rss = measure(os.path.join(bindir, "webhook-dispatcher"), schedule, 7, 20, env)
    report["init_ms_median"]["webhook-dispatcher"] = init
    report["peak_rss_mb"]["webhook-dispatcher"] = rss
    # The usage aggregator answers its stream event (one key-item record) after failing to read
    # the key's counted sequence (closed port): it reports the record for another delivery.
    stream = json.load(open("events/usage-stream.json"))
    init, rss = measure(os.path.join(bindir, "usage-aggregator"), stream, 7, 20, env)
    report["init_ms_median"]["usage-aggregator"] = init
    report["peak_rss_mb"]["usage-aggregator"] = rss
    # The click aggregator, on a slug item's stream record (a click), the same way.
    clicks = json.load(open("events/clicks-stream.json"))
    init, rss = measure(os.path.join(bindir, "click-aggregator"), clicks, 7, 20, env)
    report["init_ms_median"]["click-aggregator"] = init
    report["peak_rss_mb"]["click-aggregator"] = rss
    init, rss = measure(os.path.join(bindir, "hello-lambda"), events, 7, 1000, env)
    report["hello_init_ms_median"] = init
    report["hello_peak_rss_mb"] = rss
    json.dump(report, open(out, "w"))
    print(json.dumps(report))

main()
