"""A small DNS server on loopback for the local stack (a test tool, never deployed).

Answers TXT queries from a JSON file re-read on every query, so a test or a person can publish
a record by editing the file: {"_keyhive.go.example.com": ["keyhive-verification=..."]}.
Names are matched without case and without the trailing dot; anything else is NXDOMAIN.

Usage: dns_server.py PORT RECORDS_FILE
"""

import json
import sys

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def records(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return {}
        return {str(k).lower().rstrip("."): v for k, v in data.items() if isinstance(v, list)}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        values = self.records().get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(str(value)), ttl=0))
        return reply


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    server = DNSServer(FileResolver(path), port=port, address="127.0.0.1", tcp=False)
    server.start()


if __name__ == "__main__":
    main()
