"""A small DNS server on loopback for the local stack (a test tool, never deployed).

Answers from a JSON file re-read on every query, so a test or a person can publish a record by
editing the file. A name maps to a list of TXT values, or to an object of record types:
  {"_keyhive.go.example.com": ["keyhive-verification=..."],
   "hooks.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]}}
Names are matched without case and without the trailing dot; anything else is NXDOMAIN.

Usage: dns_server.py PORT RECORDS_FILE
"""

import json
import sys

from dnslib import AAAA, QTYPE, RCODE, RR, TXT, A
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
        records = {}
        for name, value in data.items():
            if isinstance(value, list):
                value = {"TXT": value}
            if isinstance(value, dict):
                records[str(name).lower().rstrip(".")] = value
        return records

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        values = self.records().get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        qtype = request.q.qtype
        for kind, rdata in (("TXT", TXT), ("A", A), ("AAAA", AAAA)):
            if qtype in (getattr(QTYPE, kind), QTYPE.ANY):
                for value in values.get(kind, []):
                    reply.add_answer(RR(request.q.qname, getattr(QTYPE, kind), rdata=rdata(str(value)), ttl=0))
        return reply


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    server = DNSServer(FileResolver(path), port=port, address="127.0.0.1", tcp=False)
    server.start()


if __name__ == "__main__":
    main()
