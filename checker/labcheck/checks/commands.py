"""Network clients run inside containers, on nodes and on this machine, and how to read what
they print: the HTTP status, a name that did not resolve, a connection refused or timed out.

Images differ (the curl image has curl, busybox has wget; getent or nslookup),
so each command uses what is there. Shared by the probe and matrix kinds and by
labs' own checks (through labcheck.lab).
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit
from dataclasses import dataclass

from ..cluster.base import ExecResult

USER_AGENT = "labcheck-probe"
STATUS_MARK = "LABCHECK-HTTP-STATUS"
NO_CLIENT = "neither curl nor wget is in this container's image"


def http_script(url: str, timeout: float, body: bool = True, *, headers: dict[str, str] | None = None,
                connect_to: str | None = None, cacert: str | None = None) -> str:
    """A shell line that fetches a URL and reports its status (curl through -w, wget through the
    headers -S prints), with the body before it or, body=False, thrown away.

    Images differ: the curl image has curl, busybox has wget. It uses what is there.
    `headers` are sent as given; `connect_to` is the address to connect to instead of the
    URL's host, whose name stays the Host header and the TLS server name (SNI); `cacert` is
    the PEM text of the certificate authority an https answer must be signed by. Those two
    need curl.
    """
    seconds = max(1, int(timeout) - 1)
    quoted = shlex.quote(url)
    curl_out, wget_out = ("", "-") if body else ("-o /dev/null ", "/dev/null")
    curl_extra = "".join(f"-H {shlex.quote(f'{k}: {v}')} " for k, v in (headers or {}).items())
    wget_extra = "".join(f"--header={shlex.quote(f'{k}: {v}')} " for k, v in (headers or {}).items())
    prefix = ""
    if connect_to:
        split = urlsplit(url)
        port = split.port or (443 if split.scheme == "https" else 80)
        curl_extra += f"--connect-to {shlex.quote(f'{split.hostname}:{port}:{connect_to}:{port}')} "
    if cacert:
        prefix = f"ca=$(mktemp) && printf '%s\\n' {shlex.quote(cacert.strip())} > \"$ca\" && "
        curl_extra += '--cacert "$ca" '
    fallback = (f"elif command -v wget >/dev/null 2>&1; then wget -S -T {seconds} -U {USER_AGENT} {wget_extra}"
                f"-O {wget_out} {quoted}; ") if not (connect_to or cacert) else ""
    return (f"{prefix}if command -v curl >/dev/null 2>&1; then "
            f"curl -sS -m {seconds} -A {USER_AGENT} {curl_extra}{curl_out}"
            f"-w '\\n{STATUS_MARK} %{{http_code}}\\n' {quoted}; "
            f"{fallback}else echo \"{NO_CLIENT}\" >&2; exit 127; fi")


def http_command(url: str, timeout: float, **options) -> list[str]:
    return ["sh", "-c", http_script(url, timeout, **options)]


def dns_command(name: str) -> list[str]:
    quoted = shlex.quote(name)
    return ["sh", "-c", f"if command -v getent >/dev/null 2>&1; then getent hosts {quoted}; else nslookup {quoted}; fi"]


@dataclass
class HttpAnswer:
    status: int | None  # None: no HTTP response at all
    body: str


def http_answer(result: ExecResult) -> HttpAnswer:
    """The HTTP status and body from curl's or wget's output."""
    body = result.stdout
    mark = re.search(rf"\n?{STATUS_MARK} (\d{{3}})\n?$", body)
    if mark:
        code = int(mark.group(1))
        return HttpAnswer(code if code else None, body[: mark.start()])
    statuses = re.findall(r"HTTP/\d(?:\.\d)? (\d{3})", result.stderr)
    if statuses:
        return HttpAnswer(int(statuses[-1]), body)
    if result.returncode == 0 and not result.timed_out:
        return HttpAnswer(200, body)  # a wget that does not print headers succeeds only on 2xx
    return HttpAnswer(None, body)


def headed_http_command(url: str, timeout: float) -> list[str]:
    """curl printing the status line and headers before the body (-i), for checks that must tell
    who answered (a proxy's own header, say), not only what. On nodes and in images with curl."""
    return ["curl", "-sS", "-i", "-m", str(max(1, int(timeout))), url]


@dataclass
class HttpResponse:
    status: int | None  # None: no HTTP response at all
    headers: dict[str, str]  # names in lower case
    body: str
    failure: str  # why there was no response; empty when there was one

    def shown(self) -> str:
        if self.status is None:
            return f"no HTTP answer ({self.failure})"
        return f"HTTP {self.status}, body {' '.join(self.body.split())[:80]!r}"


def http_response(result: ExecResult) -> HttpResponse:
    """Status, headers and body of what `headed_http_command` printed (the last response, after
    any interim 1xx one)."""
    text = result.stdout.replace("\r\n", "\n")
    while re.match(r"HTTP/\S+ 1\d\d", text):
        text = text.partition("\n\n")[2]
    head, _, body = text.partition("\n\n")
    lines = head.splitlines()
    found = re.match(r"HTTP/\S+ (\d{3})", lines[0]) if lines else None
    if not found:
        return HttpResponse(None, {}, "", interpret(result) or f"exit code {result.returncode}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return HttpResponse(int(found.group(1)), headers, body, "")


# (pattern in output, likely cause). First match wins.
_CAUSES: list[tuple[str, str]] = [
    (r"connection refused", "connection refused: the address answers but nothing listens on that port "
                            "(wrong port, or the server is not running)"),
    (r"could not resolve host|bad address|can't resolve|NXDOMAIN|server can't find|Name or service not known"
     r"|unable to resolve",
     "the name does not resolve: check the Service name and namespace, and that CoreDNS runs"),
    (r"timed out|timeout|operation too slow", "no answer in time: the address is wrong, unreachable, or "
                                              "traffic to it is dropped"),
    (r"no route to host|network is unreachable|host is unreachable", "no route to that address from here"),
    (r"empty reply|connection reset", "the connection opened and was cut: the server is not speaking HTTP there"),
    (r"error 4\d\d|error 5\d\d|server returned error|HTTP/1\.[01] [45]\d\d",
     "the server answered with an HTTP error status"),
    (r"not found|no such file|executable file not found|is not in container", "the command is not in this container's image"),
]

_CURL_EXIT = {6: "could not resolve host", 7: "connection refused", 28: "timed out", 52: "empty reply",
              56: "connection reset", 22: "server returned error"}


def command_missing(result: ExecResult) -> bool:
    return result.returncode in (126, 127) or bool(result.extra.get("not_started"))


def interpret(result: ExecResult) -> str | None:
    """The likely cause of a failed probe command, from its output and exit code."""
    if result.timed_out:
        return "the command did not finish in time: nothing answered (wrong address, or packets dropped)"
    if command_missing(result):
        return "the command is not in this container's image"
    text = f"{result.stdout}\n{result.stderr}".lower()
    for pattern, cause in _CAUSES:
        if re.search(pattern.lower(), text):
            return cause
    hint = _CURL_EXIT.get(result.returncode)
    if hint:
        for pattern, cause in _CAUSES:
            if re.search(pattern.lower(), hint):
                return cause
    return None


def blocking_kind(result: ExecResult) -> str | None:
    """'timed out' or 'rejected' when the failure looks like a policy at work, else None."""
    text = f"{result.stdout}\n{result.stderr}".lower()
    if result.timed_out or result.returncode == 28 or re.search(r"timed out|timeout|operation too slow", text):
        return "timed out"
    if result.returncode in (7, 56) or re.search(
            r"connection refused|connection reset|no route to host|host is unreachable|network is unreachable", text):
        return "rejected"
    return None


def in_namespace(text: str, namespace: str) -> str:
    """`$LAB_NAMESPACE` in a probe stands for the namespace being graded (any learner's, any case's)."""
    return text.replace("${LAB_NAMESPACE}", namespace).replace("$LAB_NAMESPACE", namespace)


#: What listens in a Pod's network namespace, readable from any of its containers with no
#: netstat or ss in the image: `listening_ports` reads what this prints.
LISTENING_COMMAND = ["cat", "/proc/net/tcp", "/proc/net/tcp6"]


def listening_ports(result: ExecResult) -> set[int] | None:
    """The TCP ports in state LISTEN (0A) that `LISTENING_COMMAND` printed; None when it could not run."""
    if result.returncode != 0 and not result.stdout:
        return None
    ports = set()
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
