"""The README's API walkthrough, run as a newcomer would paste it (make test runs this).

Extracts every ```sh block marked `<!-- readme-test: NAME -->` (the marker on a line of its own,
right above the block) from README.md and then from the pages under docs/ beside it (docs/*.md,
by file name), in that order, and runs them as one Bash script (errexit, pipefail) against the
stack named by API and KEY, with DNS_RECORDS and RECEIVER_PORT pointing at the test stack's own.
A later block may use what an earlier one defined (docs/webhooks.md's uses the README's `kh`).
The blocks fail by themselves on an unexpected error status (their `kh` helper is curl
--fail-with-body); this adds what output alone shows: the refused statuses, the signed
deliveries, and cleanup.

usage: test_readme.py [README.md]          (API, KEY, DNS_RECORDS, RECEIVER_PORT in the environment)
       test_readme.py --list [README.md]   the marked blocks, in run order; runs nothing
"""

import glob
import os
import re
import subprocess
import sys

BLOCK = re.compile(r"^<!-- readme-test: ([a-z-]+) -->\n```sh\n(.*?)\n```", re.S | re.M)
MARKER = re.compile(r"^<!-- readme-test:", re.M)


def pages(readme):
    """README.md, then docs/*.md beside it by name: the order the blocks run in."""
    docs = os.path.join(os.path.dirname(readme), "docs", "*.md")
    return [readme] + sorted(glob.glob(docs))


def blocks(paths):
    """(path, name, body) of every marked block, in run order."""
    found = []
    for path in paths:
        text = open(path, encoding="utf-8").read()
        marked = BLOCK.findall(text)
        # A marker whose block is not found would silently drop that block from the run.
        if len(marked) != len(MARKER.findall(text)):
            sys.exit(f"test_readme: {path}: a readme-test marker not followed by a ```sh block")
        found += [(path, name, body) for name, body in marked]
    if not found:
        sys.exit(f"test_readme: no marked blocks in {', '.join(paths)}")
    return found


def list_blocks(path):
    for page, name, body in blocks(pages(path)):
        print(f"{page}: {name} ({len(body.splitlines())} lines)")


def main(path):
    names = []
    script = []
    for _, name, body in blocks(pages(path)):
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
        sys.exit("test_readme: " + "; ".join(failures))
    print(f"test_readme: blocks {', '.join(names)} ran clean ({len(lines)} lines of output)")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--list"]:
        list_blocks(args[1] if len(args) > 1 else "README.md")
    else:
        main(args[0] if args else "README.md")
