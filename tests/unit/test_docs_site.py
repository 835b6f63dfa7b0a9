"""`labcheck docs`: the installed pages, a checkout's pages, and what it says when it has neither."""

from __future__ import annotations

import importlib.util
import socket
import threading
import urllib.request

import pytest

from labcheck import docs_site
from labcheck.errors import UsageError


def test_a_checkout_without_mkdocs_says_what_to_install(monkeypatch):
    assert docs_site.checkout_config() is not None  # the tests run from the checkout
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mkdocs" else real(name, *a))
    with pytest.raises(UsageError, match=r"pip install -e '\.\[docs\]'.*then `labcheck docs` again"):
        docs_site.serve(8000, say=print)


def test_without_a_checkout_or_bundled_pages_it_says_they_are_not_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(docs_site, "checkout_config", lambda: None)
    monkeypatch.setattr(docs_site, "BUNDLED_SITE", tmp_path / "site")
    with pytest.raises(UsageError, match="the lab pages are not installed here"):
        docs_site.serve(8000, say=print)


@pytest.fixture
def bundled(monkeypatch, tmp_path):
    site = tmp_path / "site"
    (site / "labs").mkdir(parents=True)
    (site / "index.html").write_text("<h1>Kubernetes Networking Labs</h1>")
    (site / "labs" / "01-x.ipynb").write_text('{"cells": []}')
    monkeypatch.setattr(docs_site, "checkout_config", lambda: None)
    monkeypatch.setattr(docs_site, "BUNDLED_SITE", site)
    return site


def test_the_bundled_pages_are_served_with_the_standard_library(bundled, monkeypatch):
    servers = []
    real = docs_site.http.server.ThreadingHTTPServer

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            servers.append(self)

    monkeypatch.setattr(docs_site.http.server, "ThreadingHTTPServer", Recorded)
    said = []
    thread = threading.Thread(target=docs_site.serve, args=(0, said.append), daemon=True)
    thread.start()
    while not servers:
        thread.join(0.05)
    port = servers[0].server_address[1]
    try:
        assert b"Networking Labs" in urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
        notebook = urllib.request.urlopen(f"http://127.0.0.1:{port}/labs/01-x.ipynb", timeout=5)
        assert notebook.headers["Content-Type"] == "application/x-ipynb+json"
    finally:
        servers[0].shutdown()
        thread.join(5)
    assert said == [f"Serving the lab pages on http://127.0.0.1:{port}/ (Ctrl-C stops)."]


def test_a_port_in_use_is_a_usage_error_naming_another(bundled):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"--port {port + 1}"):
            docs_site.serve(port, say=print)
