"""A minimal Lambda Runtime API on loopback, for make bench.

For each bootstrap binary: start it with AWS_LAMBDA_RUNTIME_API pointing here and only the
environment Lambda gives a function (no SSL_CERT_*, no HOME), time process
start -> first answered event (init_ms, median of several cold starts), then serve it N more
events and read its peak RSS (VmHWM). Events need no I/O (an unknown path, a malformed key), so
the figures are the function's own start-up and steady memory, not DynamoDB's.
Loopback only, bounded in count and time.
"""
import json, os, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Runtime:
    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.answered = threading.Event()
        self.count = 0
        self.lock = threading.Lock()

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
                except BrokenPipeError:
                    pass  # the process was killed while waiting for its next event
            else:
                self.send_response(404); self.end_headers()
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
            if "/invocation/" in self.path:
                with rt.lock:
                    rt.count += 1
                rt.answered.set()
    return H

def measure(binary, event, starts, requests, env):
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

def main():
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
    for fn in ["health", "authorizer", "keys", "sandboxes", "links", "webhooks"]:
        event = authz if fn == "authorizer" else events
        init, rss = measure(os.path.join(bindir, fn), event, 7, 1000, env)
        report["init_ms_median"][fn] = init
        report["peak_rss_mb"][fn] = rss
    # The sweep answers its schedule event with a scan, which fails fast against the closed port
    # (three attempts, short backoff): fewer events, so the run stays bounded.
    schedule = json.load(open("events/schedule.json"))
    init, rss = measure(os.path.join(bindir, "sandbox-sweep"), schedule, 7, 20, env)
    report["init_ms_median"]["sandbox-sweep"] = init
    report["peak_rss_mb"]["sandbox-sweep"] = rss
    # The dispatcher answers its schedule event after failing to fetch its sealing key (closed port).
    init, rss = measure(os.path.join(bindir, "webhook-dispatcher"), schedule, 7, 20, env)
    report["init_ms_median"]["webhook-dispatcher"] = init
    report["peak_rss_mb"]["webhook-dispatcher"] = rss
    init, rss = measure(os.path.join(bindir, "hello-lambda"), events, 7, 1000, env)
    report["hello_init_ms_median"] = init
    report["hello_peak_rss_mb"] = rss
    json.dump(report, open(out, "w"))
    print(json.dumps(report))

main()
