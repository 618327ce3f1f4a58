"""The README's API walkthrough, run as a newcomer would paste it (make test runs this).

Extracts every ```sh block marked `<!-- readme-test: NAME -->` from README.md, in order, and runs
them as one Bash script (errexit, pipefail) against the stack named by API and KEY, with
DNS_RECORDS and RECEIVER_PORT pointing at the test stack's own. The blocks fail by themselves on
an unexpected error status (their `kh` helper is curl --fail-with-body); this adds what output
alone shows: the refused statuses, the signed deliveries, and cleanup.

usage: readme_test.py README.md  (API, KEY, DNS_RECORDS, RECEIVER_PORT in the environment)
"""

import os
import re
import subprocess
import sys


def blocks(text):
    found = re.findall(r"<!-- readme-test: ([a-z-]+) -->\n```sh\n(.*?)\n```", text, re.S)
    if not found:
        sys.exit("readme_test: no marked blocks in the README")
    return found


def main(path):
    text = open(path, encoding="utf-8").read()
    names = []
    script = []
    for name, body in blocks(text):
        names.append(name)
        script.append(body)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ),
    )
    out = result.stdout
    failures = []
    if result.returncode != 0:
        failures.append(f"the walkthrough stopped with exit code {result.returncode}")
    lines = out.splitlines()
    # A revoked key is 401 on its next request; a removed member's user key is gone.
    for code in ("401", "404"):
        if code not in lines:
            failures.append(f"no bare {code} line (a refused request) in the output")
    if not any(l.lower().startswith("idempotent-replayed: true") for l in lines):
        failures.append("the idempotent retry was not replayed")
    if not any(l.startswith("HTTP/1.1 302") for l in lines):
        failures.append("no 302 from a short link")
    if "webhooks" in names:
        verified = [l for l in lines if " verified " in l]
        for event in ("webhook.test", "key.created", "key.revoked"):
            if not any(f'"type":"{event}"' in l for l in verified):
                failures.append(f"the receiver did not verify a {event} delivery")
        if any(" REFUSED " in l for l in lines):
            failures.append("the receiver refused a delivery's signature")
    if failures:
        print(out)
        print(result.stderr, file=sys.stderr)
        sys.exit("readme_test: " + "; ".join(failures))
    print(f"readme_test: blocks {', '.join(names)} ran clean ({len(lines)} lines of output)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "README.md")
