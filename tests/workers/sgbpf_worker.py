#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""TCP workers for an sgbpf TCP service, written from the documentation only.

The wire format is the one of docs/protocol.md: every message is an 18-byte
header (req_id u32, seq_num u32, num_pks u32, body_len u32, msg_type u8,
flags u8, all little-endian, packed) followed over TCP by exactly body_len
bytes of body.  The topology is the one of docs/tcp.md: each worker connects
to the service address from its own source endpoint, the one the service's
workers file lists.

One process runs many workers, one thread and one connection each.  Each
worker reads scatter messages (msg_type 0) from its stream and answers every
one, in order, with one gather message (msg_type 1, seq_num 0, num_pks 1,
flags 0, the request's req_id) of --reply-size body bytes.  A dropped or
refused connection is made again after 10 ms, backing off to 200 ms; every
socket closes with a reset, so that its source port can be bound again at
once.

The reply body, for a check that does not depend on sgbpf's own code: with
n = reply_size // 4 u32 elements, worker w (its 0-based place in the list)
answering request id r sends, as u32 little-endian,

    element j = Q((j + r + 7919 * w) mod n),   j = 0 .. n-1

where Q(i) = mix32(i) (below), and zero bytes after the last whole element.
A sum over the workers of element j is then exact only if every worker's
bytes were folded once, in place, for the right request.

Usage:
    sgbpf_worker.py --connect ADDR:PORT (--workers FILE | --bind IP:PORT[-PORT] ...)
                    [--reply-size BYTES] [--quiet]

Ready line on stderr once every worker thread runs:
    worker: N TCP workers connecting to ADDR:PORT
and on SIGTERM or SIGINT a summary, then exit 0:
    worker: N TCP workers, R requests, R replies, M malformed, C connects, D dropped
"""

import argparse
import array
import ipaddress
import signal
import socket
import struct
import sys
import threading
import time

HDR = struct.Struct("<IIIIBB")
assert HDR.size == 18

MSG_SCATTER = 0
MSG_GATHER = 1
MSG_ALLGATHER = 2

# A scatter body larger than this means the stream's framing is lost.
MAX_BODY = 16 << 20
MAX_REPLY = 64 << 20

BACKOFF_FIRST = 0.010
BACKOFF_MAX = 0.200


def mix32(i):
    """The element table: a 32-bit integer hash of the index."""
    x = (i * 0x9E3779B1) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def reply_offset(req_id, worker, n):
    """Where worker's body starts in the table for request req_id."""
    return (req_id + 7919 * worker) % n


class Replies:
    """Reply bodies: each a window of one doubled little-endian table."""

    def __init__(self, size):
        self.size = size
        self.n = size // 4
        table = array.array("I", (mix32(i) for i in range(self.n)))
        assert table.itemsize == 4
        if sys.byteorder != "little":
            table.byteswap()
        self.table = memoryview(table.tobytes() * 2)
        self.tail = bytes(size % 4)

    def body(self, req_id, worker):
        if self.n == 0:
            return (self.tail,)
        off = reply_offset(req_id, worker, self.n) * 4
        return (self.table[off:off + 4 * self.n], self.tail)


def endpoint(text, what):
    """IPv4:port, as docs/cli.md writes endpoints."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"{what} {text!r}: expected IPv4:PORT")
    ipaddress.IPv4Address(host)
    p = int(port, 0)
    if not 1 <= p <= 65535:
        raise ValueError(f"{what} {text!r}: port out of 1..65535")
    return host, p


def bind_range(text):
    """IP:PORT or IP:PORT-PORT, inclusive."""
    host, sep, ports = text.rpartition(":")
    if not sep:
        raise ValueError(f"--bind {text!r}: expected IP:PORT[-PORT]")
    lo, _, hi = ports.partition("-")
    first = endpoint(f"{host}:{lo}", "--bind")[1]
    last = endpoint(f"{host}:{hi}", "--bind")[1] if hi else first
    if last < first:
        raise ValueError(f"--bind {text!r}: empty range")
    return [(host, p) for p in range(first, last + 1)]


def workers_file(path):
    """The service's workers file: one IPv4:port a line, '#' comments."""
    out = []
    with open(path, encoding="ascii", errors="strict", newline="") as f:
        for no, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                ep = endpoint(line, "source")
            except ValueError as e:
                raise ValueError(f"{path}:{no}: {e}") from None
            if ep in out:
                raise ValueError(f"{path}:{no}: {line} listed twice")
            out.append(ep)
    return out


def recv_exact(sock, view):
    """Fills view from sock; False on end of stream."""
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            return False
        got += n
    return True


class Worker(threading.Thread):
    def __init__(self, index, source, service, replies, stop):
        super().__init__(daemon=True, name=f"worker-{index}")
        self.index = index
        self.source = source
        self.service = service
        self.replies = replies
        self.stop = stop
        self.requests = 0
        self.malformed = 0
        self.connects = 0
        self.dropped = 0

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # A reset on close: no TIME_WAIT keeps the source port busy.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.bind(self.source)
            s.connect(self.service)
        except OSError:
            s.close()
            raise
        return s

    def serve(self, s):
        hdr = bytearray(HDR.size)
        hview = memoryview(hdr)
        body = bytearray(0)
        while not self.stop.is_set():
            if not recv_exact(s, hview):
                return
            req_id, _seq, _npk, blen, mtype, _flags = HDR.unpack(hdr)
            if blen > MAX_BODY:
                self.malformed += 1
                return
            if len(body) < blen:
                body = bytearray(blen)
            if not recv_exact(s, memoryview(body)[:blen]):
                return
            if mtype == MSG_SCATTER:
                parts = self.replies.body(req_id, self.index)
                head = HDR.pack(req_id, 0, 1, self.replies.size, MSG_GATHER, 0)
                s.sendall(b"".join((head,) + parts))
                self.requests += 1
            elif mtype == MSG_ALLGATHER:
                continue
            else:
                # The next header cannot be found: drop the connection.
                self.malformed += 1
                return

    def run(self):
        delay = BACKOFF_FIRST
        while not self.stop.is_set():
            try:
                s = self.connect()
            except OSError:
                time.sleep(delay)
                delay = min(2 * delay, BACKOFF_MAX)
                continue
            self.connects += 1
            delay = BACKOFF_FIRST
            try:
                self.serve(s)
            except OSError:
                pass
            finally:
                s.close()
            if not self.stop.is_set():
                self.dropped += 1
                time.sleep(delay)


def main(argv):
    ap = argparse.ArgumentParser(description="TCP workers for an sgbpf TCP service.")
    ap.add_argument("--connect", required=True, help="the service's ADDR:PORT")
    ap.add_argument("--workers", help="the service's workers file: one source IPv4:port a line")
    ap.add_argument("--bind", action="append", default=[], help="source IP:PORT[-PORT]")
    ap.add_argument("--reply-size", type=lambda v: int(v, 0), default=1452,
                    help="reply body bytes (default 1452)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    try:
        service = endpoint(a.connect, "--connect")
        sources = workers_file(a.workers) if a.workers else []
        for b in a.bind:
            sources += bind_range(b)
        if not sources:
            raise ValueError("no workers: give --workers or --bind")
        if len(set(sources)) != len(sources):
            raise ValueError("a source endpoint is listed twice")
        if not 0 <= a.reply_size <= MAX_REPLY:
            raise ValueError(f"--reply-size {a.reply_size}: expected 0..{MAX_REPLY}")
    except (ValueError, OSError) as e:
        print(f"sgbpf_worker: {e}", file=sys.stderr)
        return 2

    replies = Replies(a.reply_size)
    stop = threading.Event()
    # Blocked before the threads start, so that only sigwait() below takes them.
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    workers = [Worker(i, src, service, replies, stop) for i, src in enumerate(sources)]
    for w in workers:
        w.start()
    if not a.quiet:
        print(f"worker: {len(workers)} TCP workers connecting to {a.connect}",
              file=sys.stderr, flush=True)
    signal.sigwait(stops)
    stop.set()
    if not a.quiet:
        def total(key):
            return sum(getattr(w, key) for w in workers)
        try:
            print(f"worker: {len(workers)} TCP workers, {total('requests')} requests, "
                  f"{total('requests')} replies, {total('malformed')} malformed, "
                  f"{total('connects')} connects, {total('dropped')} dropped",
                  file=sys.stderr, flush=True)
        except OSError:
            pass  # nobody reads stderr any more
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
