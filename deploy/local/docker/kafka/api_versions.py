#!/usr/bin/env python3
"""kafka-broker-api-versions.sh --bootstrap-server HOST:PORT, for the healthcheck: exit 0 when the
broker answers an ApiVersions request (v0) without error, 1 otherwise."""

import socket
import struct
import sys

args = sys.argv[1:]
server = args[args.index("--bootstrap-server") + 1] if "--bootstrap-server" in args else "localhost:9092"
host, _, port = server.rpartition(":")
client = b"healthcheck"
# request header v1: api_key 18 (ApiVersions), api_version 0, correlation id, client id
body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
try:
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        head = b""
        while len(head) < 10:
            chunk = s.recv(10 - len(head))
            if not chunk:
                sys.exit(1)
            head += chunk
except OSError:
    sys.exit(1)
_, correlation, error = struct.unpack(">iih", head)
sys.exit(0 if correlation == 7 and error == 0 else 1)
