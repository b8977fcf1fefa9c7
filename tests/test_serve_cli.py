"""``anchoral serve`` is safe by default: localhost only, websocket origins named, login optional."""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from explorer.commands.serve import add_arguments, server_options
from explorer.exceptions import ParameterError

ROOT = Path(__file__).resolve().parents[1]


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_default_is_this_machine_only_and_says_nothing():
    opts, warnings = server_options(parse(), {})
    assert opts == {"port": 5006, "address": "localhost", "websocket_origin": None}
    assert warnings == []


def test_network_address_without_origin_or_login_warns_twice():
    opts, warnings = server_options(parse("--address", "0.0.0.0"), {})
    assert opts["websocket_origin"] is None  # Bokeh's default: localhost:PORT only
    assert "basic_auth" not in opts
    assert len(warnings) == 2
    assert "--allow-websocket-origin HOST:PORT" in warnings[0]
    assert "no login" in warnings[1] and "--basic-auth" in warnings[1]


def test_wildcard_origin_is_named_as_a_risk():
    _, warnings = server_options(parse("--address", "0.0.0.0", "--allow-websocket-origin", "*",
                                       "--basic-auth", "pw"), {})
    assert any("'*' lets any web page" in w for w in warnings)


def test_basic_auth_gets_a_cookie_secret_and_a_clear_text_note():
    opts, warnings = server_options(parse("--address", "0.0.0.0", "--basic-auth", "pw",
                                          "--allow-websocket-origin", "teacher.local:5006"), {})
    assert opts["basic_auth"] == "pw" and opts["websocket_origin"] == ["teacher.local:5006"]
    assert len(opts["cookie_secret"]) >= 32  # random per start when none is given
    assert warnings == ["note: the password crosses the network in clear text without "
                        "--ssl-certfile/--ssl-keyfile (or an HTTPS proxy in front)"]
    env = {"PANEL_BASIC_AUTH": "from-env", "PANEL_COOKIE_SECRET": "s" * 40}
    opts, _ = server_options(parse(), env)
    assert opts["basic_auth"] == "from-env" and opts["cookie_secret"] == "s" * 40


@pytest.mark.parametrize("argv, message", [
    (["--ssl-certfile", "c.pem"], "--ssl-certfile and --ssl-keyfile go together"),
    (["--num-threads", "-1"], "--num-threads=-1 must be >= 0"),
    (["--workers", "0"], "--workers=0 must be >= 1"),
])
def test_bad_server_options_are_named(argv, message):
    with pytest.raises(ParameterError, match=message):
        server_options(parse(*argv), {})


# ------------------------------------------------------------------------ a real server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _outside_ip():
    """This machine's address on a network interface (not loopback), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


@pytest.fixture
def served(request):
    """Start ``anchoral serve synthetic:500 ARGS`` and yield its port."""
    procs = []

    def start(*argv, host="127.0.0.1"):
        port = _free_port()
        cmd = [sys.executable, "-m", "explorer.cli", "serve", "synthetic:500", "--port",
               str(port), *argv]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=dict(os.environ, HF_HUB_OFFLINE="1"))
        procs.append(proc)
        deadline = time.time() + 180
        while True:
            try:
                socket.create_connection((host, port), timeout=2).close()
                return port, proc
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"serve did not start: {proc.stderr.read()!r}") from None
                time.sleep(0.3)

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _get(port, path, headers=None, body=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def _websocket_status(port, origin):
    status, _, _ = _get(port, "/ws", headers={
        "Origin": origin, "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"})
    return status


@pytest.mark.slow
def test_default_server_listens_on_loopback_only_and_checks_origins(served):
    port, _ = served()
    assert _get(port, "/")[0] == 200
    ip = _outside_ip()
    if ip is not None:
        with pytest.raises(OSError):
            socket.create_connection((ip, port), timeout=3).close()
    assert _websocket_status(port, "http://evil.example") == 403  # another site's page
    assert _websocket_status(port, f"http://localhost:{port}") != 403


@pytest.mark.slow
def test_basic_auth_asks_for_the_password_first(served):
    port, proc = served("--address", "127.0.0.2", "--basic-auth", "letmein",
                        "--allow-websocket-origin", "127.0.0.2", host="127.0.0.2")
    conn = http.client.HTTPConnection("127.0.0.2", port, timeout=60)
    conn.request("GET", "/")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302 and "/login" in resp.getheader("Location", "")
    form = urllib.parse.urlencode({"username": "ann", "password": "wrong"})
    conn.request("POST", "/login", body=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302 and "Invalid" in urllib.parse.unquote(resp.getheader("Location"))
    conn.request("POST", "/login", body=urllib.parse.urlencode({"username": "ann",
                                                               "password": "letmein"}),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302 and "user=" in resp.getheader("Set-Cookie", "")
    conn.close()
    proc.kill()
    err = proc.communicate()[1].decode()
    assert "no login" not in err and "password crosses the network in clear text" in err
