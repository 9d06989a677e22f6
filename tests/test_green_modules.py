"""minievent.green's modules as their own users import them: eventlet's green spellings, without monkey_patch.

Each case runs in a child interpreter (``run_child``), so that what a case
imports or patches stays there.
"""

from __future__ import annotations

import textwrap

from support import beats_while_code, run_child

SERVER = (
    textwrap.dedent("""
    import json, sys, time
    import minievent
""")
    + beats_while_code()
    + textwrap.dedent("""
    in_flight = [0, 0]  # now, most at once

    def slow_server(server, seconds):
        # A green http.server that answers each GET after `seconds`, served in a greenthread.
        class Slow(server.BaseHTTPRequestHandler):
            def do_GET(self):
                in_flight[0] += 1
                in_flight[1] = max(in_flight)
                minievent.sleep(seconds)
                in_flight[0] -= 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(self.path.encode())
            def log_message(self, *args):
                pass
        httpd = server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        minievent.spawn(httpd.serve_forever, 0.05)
        return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
""")
)


def test_green_urllib_and_http_packages_are_concurrent_and_leave_the_stdlib_alone():
    out = run_child(
        SERVER
        + textwrap.dedent("""
        before = {name: sys.modules.get(name) for name in ("http", "http.client", "urllib.request", "socketserver")}
        from minievent.green.http import client, server, cookies
        from minievent.green.urllib import request, error, parse, response
        from minievent.green import http
        import minievent.green.urllib.request
        import http.client as std_client, urllib.error as std_error, http.cookies as std_cookies
        httpd, url = slow_server(server, 0.3)
        # Five GETs at once, each answered after 0.3 s: all five in the server at once, while a heartbeat ticks.
        pile = minievent.GreenPile()
        ticks, bodies = beats_while(lambda: [pile.spawn(lambda i=i: request.urlopen(f"{url}/{i}").read())
                                             for i in range(5)] and list(pile))
        conn = client.HTTPConnection(*httpd.server_address)
        conn.request("GET", "/direct")
        direct = conn.getresponse().read().decode()
        conn.close()
        httpd.shutdown()
        httpd.server_close()
        errors = []
        try:
            request.urlopen(url + "/gone", timeout=5)  # the server has stopped: refused
        except std_error.URLError as e:  # the stdlib's class catches the green urlopen's error
            errors.append(type(e.reason).__name__)
        try:
            client.HTTPConnection("127.0.0.1", 1).getresponse()  # no request sent
        except client.HTTPException as e:  # (the copy's own classes, as eventlet's green.http.client has)
            errors.append(type(e).__name__)
        print(json.dumps({
            "bodies": sorted(b.decode() for b in bodies), "at_once": in_flight[1], "ticks": ticks, "direct": direct,
            "errors": errors,
            "green": [m.socket.socket is minievent.GreenSocket for m in (client, server, server.socketserver)],
            "urllib_green_client": request.http.client is client and "HTTPConnection" in vars(client),
            "same_objects": [error.URLError is std_error.URLError, cookies.SimpleCookie is std_cookies.SimpleCookie,
                             http.HTTPStatus.OK == 200, parse.quote("a b") == "a%20b",
                             response.addinfourl.__name__ == "addinfourl"],
            "threads_green": type(server.socketserver.threading.Lock()).__module__.startswith("minievent"),
            "stdlib_unpatched": [sys.modules[n] is m for n, m in before.items() if m is not None]
                                + [std_client.socket.socket is not minievent.GreenSocket],
        }))
        """)
    )
    assert out["bodies"] == [f"/{i}" for i in range(5)] and out["direct"] == "/direct", out
    assert out["at_once"] == 5 and out["ticks"] >= 10, out  # blocking: one at a time, and no tick meanwhile
    assert out["errors"] == ["ConnectionRefusedError", "ResponseNotReady"], out
    assert out["green"] == [True] * 3 and out["urllib_green_client"], out
    assert out["same_objects"] == [True] * 5 and out["threads_green"], out
    assert out["stdlib_unpatched"] == [True] * len(out["stdlib_unpatched"]), out


def test_a_failed_lookup_holds_no_reference_to_its_arguments():
    # CPython's testRefCountGetNameInfo: the C function's TypeError keeps no reference to what it was given;
    # the green one runs it in tpool, whose frames held the arguments for as long as the error lived.
    out = run_child("""
        import json, socket, sys
        import minievent
        minievent.monkey_patch()
        name = "".join(["not", "-a-tuple"])
        def lookup():
            before = sys.getrefcount(name)
            try:
                socket.getnameinfo(name, 0)
            except TypeError as e:
                return sys.getrefcount(name) - before, str(e)
        first = lookup()  # (no hub yet: the C function called straight)
        pooled = minievent.spawn(lookup).wait()  # (a greenthread: in tpool)
        leaked, messages = [first[0], pooled[0]], [first[1], pooled[1]]
        print(json.dumps({"leaked": leaked, "messages": messages}))
    """)
    assert out == {"leaked": [0, 0], "messages": ["getnameinfo() argument 1 must be a tuple"] * 2}


def test_green_socketserver_ftplib_and_cookiejar_are_eventlets_spellings():
    out = run_child(
        SERVER
        + textwrap.dedent("""
        import ftplib as std_ftplib, http.cookiejar as std_cookiejar, socketserver as std_socketserver
        from minievent.green import ftplib, socketserver
        from minievent.green.http import cookiejar
        # A TCP server from the green copy: its accept waits in the hub while a heartbeat ticks.
        server = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
        serving = minievent.spawn(server.serve_forever, 0.05)
        ticks, _ = beats_while(lambda: minievent.sleep(0.3))
        server.shutdown()
        server.server_close()
        serving.wait()
        print(json.dumps({
            "ticks": ticks,
            "green": [m.socket.socket is minievent.GreenSocket for m in (socketserver, ftplib)],
            "cookiejar_green_lock": type(cookiejar.CookieJar()._cookies_lock._block).__module__.startswith("minievent"),
            "own_classes": [socketserver.TCPServer is not std_socketserver.TCPServer,
                            ftplib.FTP is not std_ftplib.FTP, cookiejar.CookieJar is not std_cookiejar.CookieJar],
            "stdlib_unpatched": [std_socketserver.socket.socket is not minievent.GreenSocket,
                                 std_ftplib.socket.socket is not minievent.GreenSocket],
        }))
        """)
    )
    assert out["ticks"] >= 10, out  # the heartbeat beat every 10 ms or so while the server waited
    assert out["green"] == [True, True] and out["cookiejar_green_lock"], out
    assert out["own_classes"] == [True, True, True] and out["stdlib_unpatched"] == [True, True], out
