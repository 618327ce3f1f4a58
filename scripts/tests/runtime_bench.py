"""A minimal Lambda Runtime API on loopback, for make bench.

For each bootstrap binary: start it with AWS_LAMBDA_RUNTIME_API pointing here and only the
environment Lambda gives a function (no SSL_CERT_*, no HOME).

- init_ms_median: process start -> ready for its first event (its first GET of
  /runtime/invocation/next), the same measure for every binary, HTTP functions and workers
  alike. Starts are interleaved (one start of every binary per round, ROUNDS rounds), so a
  noisy moment of a shared machine weighs on every binary alike, and the median is reported.
- peak_rss_mb: after one start has served N events (VmHWM). Events need no I/O (an unknown path,
  a malformed key), so the figure is the function's own steady memory, not DynamoDB's.

With --cold (run against the bench stack): cold_first_request_ms, process start to the answer of
the first *authenticated* request that reaches the store, DynamoDB behind the TLS front (the
compiled-in roots plus the front's CA), the hashing secret from moto: nothing that init might
leave to the first request escapes the figure. hello-world's start-to-first-answer is measured in
the same interleaved rounds. Loopback only, bounded in count and time.
"""
import json, os, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROUNDS = 7
COLD_ROUNDS = 5

class Runtime:
    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.ready = threading.Event()
        self.answered = threading.Event()
        self.ready_at = None
        self.count = 0
        self.lock = threading.Lock()
        self.first_answer = None

def make_handler(rt):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass
        def do_GET(self):
            if self.path.endswith("/invocation/next"):
                with rt.lock:
                    if rt.ready_at is None:
                        rt.ready_at = time.monotonic()
                rt.ready.set()
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

def start_once(binary, event, env, requests=1, check=None):
    """One cold start of `binary`: (ms to ready, ms to its first answer, peak RSS in MB after
    `requests` answered events)."""
    rt = Runtime(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(rt))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    e = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1])
    t0 = time.monotonic()
    proc = subprocess.Popen([binary], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not rt.answered.wait(30):
            raise SystemExit("%s answered no event within 30 s" % binary)
        answered_ms = (time.monotonic() - t0) * 1000
        ready_ms = (rt.ready_at - t0) * 1000
        if check:
            check(binary, rt.first_answer)
        deadline = time.monotonic() + 120
        while rt.count < requests and time.monotonic() < deadline:
            time.sleep(0.01)
        rss = None
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) / 1024
        return ready_ms, answered_ms, rss
    finally:
        proc.kill(); proc.wait(); server.shutdown()

def interleaved(runs, rounds, pick):
    """`runs`: name -> (binary, event, env, check). ROUNDS rounds, each starting every binary
    once in turn; the median of pick(ready_ms, answered_ms) per name."""
    figures = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (binary, event, env, check) in runs.items():
            ready_ms, answered_ms, _ = start_once(binary, event, env, 1, check)
            figures[name].append(pick(ready_ms, answered_ms))
    return {name: round(statistics.median(values), 2) for name, values in figures.items()}

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
    """cold_first_request_ms per HTTP function, against the stack in the environment."""
    key = os.environ["BENCH_KEY"]
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("AWS_", "KEYHIVE_", "PATH")) and k not in ("AWS_LAMBDA_RUNTIME_API",)}
    env.update({"TZ": ":UTC", "LAMBDA_TASK_ROOT": "/var/task", "_HANDLER": "bootstrap", "RUST_LOG": "warn",
                "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "1"})
    authz = json.load(open("events/authorizer-request.json"))
    authz["headers"]["X-API-Key"] = key
    authz["multiValueHeaders"]["X-API-Key"] = [key]
    # One unmeasured start first: the authorizer's own answer gives the context API Gateway
    # would pass on to the functions.
    answers = []
    def allowed(binary, first):
        answered_ok(binary, first)
        answers.append(json.loads(first[1]))
    start_once(os.path.join(bindir, "authorizer"), authz, env, 1, allowed)
    context = dict(answers[0]["context"], principalId=answers[0]["principalId"])
    runs = {"authorizer": (os.path.join(bindir, "authorizer"), authz, env, answered_ok)}
    # One event per function that authenticates and reads the store (the links function: a
    # public redirect, its one write).
    events = {"health": "health.json", "keys": "keys-self.json", "sandboxes": "sandboxes-list.json",
              "links": "links-list.json", "webhooks": "webhooks-list.json", "console": "console-page.json"}
    for fn, name in events.items():
        event = json.load(open(os.path.join("events", name)))
        if fn not in ("health", "console"):
            event["requestContext"]["authorizer"] = context
        runs[fn] = (os.path.join(bindir, fn), event, env, answered_ok)
    runs["hello"] = (os.path.join(bindir, "hello-lambda"), json.load(open("events/unknown-path.json")), env, None)
    figures = interleaved(runs, COLD_ROUNDS, lambda ready, answered: answered)
    report = {"cold_first_request_ms": {fn: v for fn, v in figures.items() if fn != "hello"},
              "hello_cold_first_request_ms": figures["hello"], "cold_rounds": COLD_ROUNDS}
    json.dump(report, open(out, "w"))
    print(json.dumps(report))

def main():
    if sys.argv[1] == "--cold":
        return cold(sys.argv[2], sys.argv[3])
    bindir, out = sys.argv[1], sys.argv[2]
    unknown = json.load(open("events/unknown-path.json"))
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
                # Nothing listens here: the HTTP functions' events need no call; a worker's
                # calls fail fast, after its figures (ready, and its steady memory) are taken.
                "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9",
                # The files function needs its bucket's name at start (it presigns for it).
                "KEYHIVE_FILES_BUCKET": "bench-files"})
    schedule = json.load(open("events/schedule.json"))
    # name -> (event, events served before the memory is read: fewer for a worker, whose
    # event fails its calls against the closed port with retries, so the run stays bounded).
    binaries = {fn: (authz if fn == "authorizer" else json.load(open("events/console-page.json")) if fn == "console" else unknown, 1000)
                for fn in ["health", "authorizer", "keys", "sandboxes", "links", "webhooks", "files", "console"]}
    binaries.update({
        "sandbox-sweep": (schedule, 20), "key-notices": (schedule, 20), "webhook-dispatcher": (schedule, 20),
        "usage-aggregator": (json.load(open("events/usage-stream.json")), 20),
        "click-aggregator": (json.load(open("events/clicks-stream.json")), 20),
        "hello-lambda": (unknown, 1000),
    })
    runs = {fn: (os.path.join(bindir, fn), event, env, None) for fn, (event, _) in binaries.items()}
    init = interleaved(runs, ROUNDS, lambda ready, answered: ready)
    rss = {fn: round(start_once(os.path.join(bindir, fn), event, env, n)[2], 1) for fn, (event, n) in binaries.items()}
    hello_init, hello_rss = init.pop("hello-lambda"), rss.pop("hello-lambda")
    report = {"init_ms_median": init, "hello_init_ms_median": hello_init, "init_rounds": ROUNDS,
              "peak_rss_mb": rss, "hello_peak_rss_mb": hello_rss}
    json.dump(report, open(out, "w"))
    print(json.dumps(report))

main()
