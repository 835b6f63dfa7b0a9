"""`labcheck docs`: serve the lab pages on this machine.

A wheel carries the built site (labcheck/_bundled/site, with every lab's
notebook), made by hatch_build.py when the wheel is built; an installed
labcheck serves it from any folder with the standard library alone, so a
classroom without internet has its pages. Run from a checkout, labcheck
builds and serves the checkout's own pages live with mkdocs (the docs extra)
instead, so an author sees every edit.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

from .errors import UsageError
from .loader import labs_dir

BUNDLED_SITE = Path(__file__).resolve().parent / "_bundled" / "site"


def checkout_config() -> Path | None:
    """mkdocs.yml of the checkout labcheck runs from, if it runs from one."""
    config = labs_dir().parent / "mkdocs.yml"
    return config if config.is_file() else None


def bundled_site() -> Path | None:
    return BUNDLED_SITE if (BUNDLED_SITE / "index.html").is_file() else None


def serve(port: int, say: Callable[[str], None]) -> int:
    """Serve the pages on 127.0.0.1:port until Ctrl-C; the exit code."""
    config = checkout_config()
    if config is not None:
        if importlib.util.find_spec("mkdocs") is None:
            raise UsageError("this checkout's lab pages are built by mkdocs, which is not installed: run "
                             "`pip install -e '.[docs]'` in labcheck's environment, then `labcheck docs` again")
        say(f"Building and serving this checkout's lab pages on http://127.0.0.1:{port}/ (Ctrl-C stops).")
        sys.stdout.flush()
        sys.stderr.flush()
        # mkdocs takes this process's place, so whatever stops `labcheck docs` stops the server too.
        os.execve(sys.executable, [sys.executable, "-m", "mkdocs", "serve", "--config-file", str(config),
                                   "--dev-addr", f"127.0.0.1:{port}"], {**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    site = bundled_site()
    if site is None:
        raise UsageError("the lab pages are not installed here (this labcheck was built without them): install "
                         "labcheck from the project's wheel or folder, or run `labcheck docs` in the project's folder")
    handler = functools.partial(_QuietHandler, directory=str(site))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UsageError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror}): "
                         f"try another port, `labcheck docs --port {port + 1}`") from None
    say(f"Serving the lab pages on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops).")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".ipynb": "application/x-ipynb+json"}

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass
