"""Green DNS through the real resolver path: glibc, asking a slow DNS server of our own on 127.0.0.1.

glibc reads its nameserver from /etc/resolv.conf, so the check runs in a child
inside ``unshare --mount --net``: a private mount namespace where a
resolv.conf naming 127.0.0.1 is bind-mounted over the real one, and a private
network namespace, whose port 53 is ours alone. The server answers every
query after 0.15 s, each in a thread of its own, so 50 lookups made at once
take about one lookup's time -- if the lookups don't hold the hub.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap

from support import last_json, missing, run_python

DNS_SERVER = r"""
import socket, struct, sys, threading, time
LATENCY = float(sys.argv[1])

def name_at(msg, i):
    labels = []
    while msg[i]:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode())
        i += 1 + msg[i]
    return ".".join(labels), i + 1

def encode(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"

def answer(query, client):
    time.sleep(LATENCY)
    name, end = name_at(query, 12)
    qtype = struct.unpack("!H", query[end:end + 2])[0]
    rdata, rcode = None, 3  # NXDOMAIN unless it is one of ours
    if name.endswith(".test") and name.startswith("h") and name[1:-5].isdigit():
        rcode = 0
        if qtype == 1:  # A: hN.test is 10.0.0.N
            rdata = bytes([10, 0, 0, int(name[1:-5])])
    elif name.endswith(".in-addr.arpa") and name.split(".")[:4][3] == "10":  # PTR: 10.0.0.N is hN.test
        rcode, rdata = 0, encode(f"h{name.split('.')[0]}.test")
    head = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8180 | rcode, 1, rdata is not None, 0, 0)
    reply = head + query[12:end + 4]
    if rdata is not None:
        reply += struct.pack("!HHHIH", 0xC00C, qtype, 1, 0, len(rdata)) + rdata
    sock.sendto(reply, client)

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    query, client = sock.recvfrom(4096)
    threading.Thread(target=answer, args=(query, client), daemon=True).start()
"""

CHECK = r"""
import json, os, socket, subprocess, sys, time
server = subprocess.Popen([sys.executable, "-c", sys.argv[1], "0.15"], stdout=subprocess.PIPE, text=True)
assert server.stdout.readline() == "ready\n"
out = {}
try:
    import minievent

    def timed(fn, n):
        pool = minievent.GreenPool(50)
        t0 = time.monotonic()
        results = list(pool.imap(fn, range(n)))
        return results, time.monotonic() - t0

    # Unpatched, for contrast: five lookups in five greenthreads, one after another.
    out["unpatched"] = timed(lambda i: socket.gethostbyname(f"h{i}.test"), 5)
    minievent.monkey_patch()
    ticks = []
    def tick():
        while True:
            ticks.append(time.monotonic())
            minievent.sleep(0.01)
    minievent.spawn(tick)
    out["gethostbyname"] = timed(lambda i: socket.gethostbyname(f"h{i}.test"), 50)
    out["getaddrinfo"] = timed(lambda i: socket.getaddrinfo(f"h{i}.test", 80, socket.AF_INET,
                                                            socket.SOCK_STREAM)[0][4][0], 50)
    out["gethostbyname_ex"] = timed(lambda i: socket.gethostbyname_ex(f"h{i}.test")[2], 50)
    out["gethostbyaddr"] = timed(lambda i: socket.gethostbyaddr(f"10.0.0.{i}")[0], 50)
    out["getnameinfo"] = timed(lambda i: socket.getnameinfo((f"10.0.0.{i}", 80), socket.NI_NUMERICSERV), 50)
    out["max_gap"] = max(b - a for a, b in zip(ticks, ticks[1:]))
    errors = {}
    for label, call in (("nxdomain", lambda: socket.gethostbyname("nothing.invalid")),
                        ("bad_service", lambda: socket.getaddrinfo("h1.test", "no-such-service")),
                        ("bad_host_type", lambda: socket.getaddrinfo(123, 80)),
                        ("none", lambda: socket.getaddrinfo(None, None))):
        try:
            call()
        except Exception as e:
            errors[label] = [type(e).__name__, getattr(e, "errno", None)]
    out["errors"] = errors
    out["numeric"] = socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4]
finally:
    server.kill()
print(json.dumps(out))
"""


def run_in_namespace(tmp_path) -> dict:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        missing("needs root and unshare (util-linux) to point glibc at a test DNS server")
    probe = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True, text=True)
    if probe.returncode:
        missing(f"unshare --mount --net is refused here: {probe.stderr.strip()}")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
    # sh's $0 is the resolv.conf to mount; "$@" the interpreter and its arguments.
    script = 'ip link set lo up 2>/dev/null; mount --bind "$0" /etc/resolv.conf && exec "$@"'
    prefix = ("unshare", "--mount", "--net", "sh", "-c", script, str(resolv))
    return last_json(run_python("-c", textwrap.dedent(CHECK), DNS_SERVER, timeout=90, prefix=prefix))


def test_lookups_do_not_hold_the_hub(tmp_path):
    out = run_in_namespace(tmp_path)
    names, unpatched = out["unpatched"]
    assert names == [f"10.0.0.{i}" for i in range(5)] and unpatched >= 5 * 0.15 * 0.9  # serial: the server path
    expect = {
        "gethostbyname": [f"10.0.0.{i}" for i in range(50)],
        "getaddrinfo": [f"10.0.0.{i}" for i in range(50)],
        "gethostbyname_ex": [[f"10.0.0.{i}"] for i in range(50)],
        "gethostbyaddr": [f"h{i}.test" for i in range(50)],
        "getnameinfo": [[f"h{i}.test", "80"] for i in range(50)],
    }
    for fn, answers in expect.items():
        got, seconds = out[fn]
        assert got == answers, fn
        # 50 x 0.15 s = 7.5 s one after another; at once (20 pool threads: three rounds) well under 2 s.
        assert seconds < 2, (fn, seconds)
    assert out["max_gap"] < 0.1, out["max_gap"]  # the hub went on while they waited
    # Bad input gets the stdlib's exceptions (the C resolver's own), through the pool.
    assert out["errors"] == {
        "nxdomain": ["gaierror", socket.EAI_NONAME],
        "none": ["gaierror", socket.EAI_NONAME],
        "bad_service": ["gaierror", socket.EAI_SERVICE],
        "bad_host_type": ["TypeError", None],
    }
    assert out["numeric"] == ["127.0.0.1", 80]
