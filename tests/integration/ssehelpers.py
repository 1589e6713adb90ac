"""A raw-socket Server-Sent Events client for the change feed's tests: it
reads the HTTP head, then the chunked body, and yields events as they come."""

import json
import random
import socket
import time


class SSEStream:
    def __init__(self, host, port, token, last_event_id=None, after=None,
                 rcvbuf=None, timeout=10.0, path="/v1/changes"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if after:
            path += "?after=" + after
        head = ("GET %s HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
                "Authorization: Bearer %s\r\n" % (path, token))
        if last_event_id:
            head += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((head + "\r\n").encode())
        self.buf = b""
        self.body = b""
        self.ended = False
        self.status, self.headers = None, {}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for l in lines[1:]:
            k, v = l.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._recv()
            self.error = json.loads(self.buf[:n]) if n else None
        return self.status

    def _chunk(self):
        """One chunk of the body into self.body; False at the last chunk."""
        while b"\r\n" not in self.buf:
            self._recv()
        size_line, rest = self.buf.split(b"\r\n", 1)
        size = int(size_line, 16)
        while len(rest) < size + 2:
            self._recv()
            size_line, rest = self.buf.split(b"\r\n", 1)
        self.body += rest[:size]
        self.buf = rest[size + 2:]
        if size == 0:
            self.ended = True
            return False
        return True

    def next_block(self):
        """The next SSE block (event or comment) as a dict; None at the stream's end."""
        while b"\n\n" not in self.body:
            if self.ended or not self._chunk():
                return None
        block, self.body = self.body.split(b"\n\n", 1)
        ev = {"comments": [], "data": []}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                ev["comments"].append(line[1:].strip())
            elif ":" in line:
                k, v = line.split(":", 1)
                v = v[1:] if v.startswith(" ") else v
                if k == "data":
                    ev["data"].append(v)
                else:
                    ev[k] = v
        if ev["data"]:
            ev["json"] = json.loads("\n".join(ev["data"]))
        return ev

    def next_event(self, timeout=10.0):
        """The next event (comments and retry blocks skipped); None at the stream's end or
        when none came within `timeout` (heartbeats do not count: a stream that only beats
        has lost the event it owes)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                b = self.next_block()
            except socket.timeout:
                return None
            if b is None or "id" in b:
                return b

    def events(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("got %d of %d events" % (len(out), n))
            e = self.next_event(timeout=left)
            if e is None:
                raise AssertionError("stream ended after %d of %d events" % (len(out), n))
            out.append(e)
        return out


def read_resuming(open_stream, last_id, total, seed, most=60, timeout=20):
    """Reads `total` events as a client that drops its stream after a random 1..most
    events and resumes from the last id it saw: open_stream(last_event_id) opens one.
    Returns the events' JSON, in the order they came."""
    rnd = random.Random(seed)
    got = []
    while len(got) < total:
        s = open_stream(last_id)
        try:
            for _ in range(rnd.randint(1, most)):
                e = s.next_event(timeout=timeout)
                assert e is not None, "no event within %s s after %d" % (timeout, len(got))
                got.append(e["json"])
                last_id = e["id"]
                if len(got) == total:
                    break
        finally:
            s.close()
    return got
