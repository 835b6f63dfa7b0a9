"""Running a command in a Pod (the API's exec stream) or on a kind node (docker exec).

Both give the shell's codes for a command that never started (127: not there,
126: could not run) and 124 for one that ran out of time; what the grader itself
could not do is ClusterUnavailable, never an exit code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from typing import Any, Callable

from ...errors import ClusterUnavailable, TargetUnavailable
from ..base import ExecResult
from .answers import as_text, first_line, status_message
from .skeleton import deferring_helpers

# Channels of the exec stream (the remotecommand protocol): data, then one Status on _ERROR.
_STDOUT, _STDERR, _ERROR = 1, 2, 3

# How runc (kind's runtime) and crun report a command the image does not have.
_MISSING_EXECUTABLE = (
    re.compile(r'exec: "(?P<name>[^"]+)": (?:executable file not found|stat \S+: no such file or directory)'),
    re.compile(r"executable file `(?P<name>[^`]+)` not found"),
)


def open_stream(exec_core: Callable[[], Any], namespace: str, pod: str, container: str, command: list[str],
                request_timeout: tuple[float, float]) -> Any:
    """The exec websocket (a kubernetes.stream WSClient), opened on the core API `exec_core()` gives."""
    from kubernetes.client.exceptions import ApiException

    with deferring_helpers():
        from kubernetes.stream import stream

    opened: dict[str, Any] = {}

    def opening() -> None:
        try:
            opened["ws"] = stream(
                exec_core().connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=command,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
                _request_timeout=request_timeout,
            )
        except AttributeError as exc:
            # When the websocket does not open, the client's call_api runs `e.body.decode()` on
            # the ApiException it got, whose body is None; that ApiException says what happened.
            opened["error"] = exc.__context__ if isinstance(exc.__context__, ApiException) else exc
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which sorts it
            opened["error"] = exc

    # The client opens the websocket with no timeout at all; a thread bounds the wait.
    opener = threading.Thread(target=opening, name="exec-open", daemon=True)
    opener.start()
    opener.join(sum(request_timeout))
    if opener.is_alive():
        raise ClusterUnavailable(f"exec into {pod}/{container}: the API did not open the stream in time")
    if "error" in opened:
        raise opened["error"]
    return opened["ws"]


def exec_in_pod(open_ws: Callable[[], Any], server: str, namespace: str, pod: str, container: str,
                command: list[str], timeout: float) -> ExecResult:
    """Run `command` in a running container through the stream `open_ws()` opens, for at most `timeout` seconds."""
    import yaml
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError
    from websocket import WebSocketException

    target = f"{pod}/{container}"
    # The client raises ValueError/TypeError (and YAML errors) from its own parsing of odd answers.
    client_errors = (OSError, HTTPError, WebSocketException, ValueError, TypeError, yaml.YAMLError)
    started = time.monotonic()
    try:
        ws = open_ws()
    except ApiException as exc:
        raise _exec_refused(exc, server, namespace, target) from None
    except client_errors as exc:
        raise ClusterUnavailable(f"exec into {target} failed: {first_line(exc)}") from None
    out: list[str] = []
    err: list[str] = []
    timed_out = False
    try:
        while ws.is_open():
            remaining = timeout - (time.monotonic() - started)
            if remaining <= 0:
                timed_out = True
                break
            ws.update(timeout=min(remaining, 1.0))
            out.append(ws.read_channel(_STDOUT))
            err.append(ws.read_channel(_STDERR))
        # Frames that arrived with the last update (or just before close) are still buffered.
        out.append(ws.read_channel(_STDOUT))
        err.append(ws.read_channel(_STDERR))
        status = None if timed_out else ws.read_channel(_ERROR)
    except client_errors as exc:
        raise ClusterUnavailable(f"exec into {target} broke off: {first_line(exc)}") from None
    finally:
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real outcome
            pass
    stderr = "".join(as_text(part) for part in err)
    extra: dict[str, Any] = {}
    if timed_out:
        returncode = 124
    else:
        returncode, problem = _exit_status(status, pod, container, command)
        if problem is not None:
            extra["not_started"] = True
            stderr = problem + ("\n" + stderr if stderr else "")
    return ExecResult(
        args=command,
        returncode=returncode,
        stdout="".join(as_text(part) for part in out),
        stderr=stderr,
        duration=round(time.monotonic() - started, 3),
        where=f"pod {namespace}/{pod} container {container}",
        timed_out=timed_out,
        extra=extra,
    )


def exec_on_node(node: str, command: list[str], timeout: float) -> ExecResult:
    """Run `command` in the kind node container `node` with docker exec."""
    docker = shutil.which("docker")
    if docker is None:
        raise ClusterUnavailable("docker is not installed: node checks exec into kind node containers")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [docker, "exec", node, *command], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return ExecResult(
            args=command,
            returncode=124,
            stdout=as_text(exc.stdout),
            stderr=as_text(exc.stderr),
            duration=round(time.monotonic() - started, 3),
            where=f"node {node}",
            timed_out=True,
        )
    except OSError as exc:
        raise ClusterUnavailable(f"cannot run docker: {first_line(exc)}") from None
    # What docker itself says (not the command run on the node) means the grader cannot look.
    if "No such container" in done.stderr:
        raise ClusterUnavailable(f"no kind node container {node!r}: is this the lab's cluster?")
    lowered = done.stderr.lower()
    if "cannot connect to the docker daemon" in lowered or "docker daemon socket" in lowered:
        raise ClusterUnavailable(f"docker exec on node {node} failed: {first_line(done.stderr)}")
    if done.returncode == 125 or done.stderr.startswith("Error response from daemon"):
        raise ClusterUnavailable(f"docker exec on node {node} failed: {first_line(done.stderr)}")
    extra: dict[str, Any] = {}
    returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    if done.returncode in (126, 127) and "OCI runtime exec failed" in done.stdout + done.stderr:
        # The command never ran on the node. docker 20.10 prints why on stdout and exits 126
        # even for a missing command; give the codes exec in a Pod gives (127: not there).
        why = (done.stderr + done.stdout).strip()
        returncode, stderr = _start_failure(why, f"is not on node {node}", f"node {node}", command)
        stdout = ""
        extra["not_started"] = True
    return ExecResult(
        args=command,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        duration=round(time.monotonic() - started, 3),
        where=f"node {node}",
        extra=extra,
    )


def _exit_status(payload: Any, pod: str, container: str, command: list[str]) -> tuple[int, str | None]:
    """The exit code from the exec stream's Status, and a problem line when the command never started.

    Parsed here rather than by WSClient.returncode, which raises ValueError/TypeError on
    these answers and whose None ("unknown") must never read as success.
    """
    target = f"{pod}/{container}"
    text = as_text(payload).strip()
    if not text:
        raise ClusterUnavailable(f"exec into {target} ended without an exit status")
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    unreadable = ClusterUnavailable(f"exec into {target} ended with an unreadable exit status: {first_line(text)}")
    if not isinstance(status, dict):
        raise unreadable
    if status.get("status") == "Success":
        return 0, None
    if status.get("reason") == "NonZeroExitCode":
        causes = (status.get("details") or {}).get("causes") or []
        for cause in causes:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), None
                except (TypeError, ValueError):
                    break
        raise unreadable
    if status.get("status") == "Failure":
        return _start_failure(
            str(status.get("message") or "no message"), f"is not in container {container}'s image", target, command
        )
    raise unreadable


def _start_failure(message: str, missing: str, where: str, command: list[str]) -> tuple[int, str]:
    """A command that could not start: 127 when its executable is absent, else 126 (the shell's codes)."""
    for pattern in _MISSING_EXECUTABLE:
        found = pattern.search(message)
        if found:
            return 127, f"`{found.group('name')}` {missing}\n{message}"
    if "executable file not found" in message:
        return 127, f"`{command[0] if command else '?'}` {missing}\n{message}"
    return 126, f"`{command[0] if command else '?'}` could not start in {where}\n{message}"


def _exec_refused(exc: Any, server: str, namespace: str, target: str) -> Exception:
    """The error for an exec the API did not open. The stream wraps every failure in
    ApiException(status=0), so the handshake's status is read from the reason text."""
    reason = str(exc.reason or "")
    status = exc.status
    body = exc.body
    if not status:
        found = re.match(r"Handshake status (\d{3})", reason)
        if found is None:
            return ClusterUnavailable(f"Kubernetes API at {server} unreachable for exec: {first_line(reason)}")
        status = int(found.group(1))
        body = reason.rsplit(" -+-+- ", 1)[-1]
    message = status_message(body, f"HTTP {status}")
    if status in (401, 403):
        return ClusterUnavailable(f"the API server refused access to exec into {target} ({status}: {message})")
    if 400 <= status < 500:
        # 404: the Pod went away; 400: the container stopped, both since it was looked up.
        return TargetUnavailable(f"cannot exec in {target} (namespace {namespace}): {message}")
    return ClusterUnavailable(f"the API server answered {status} to exec into {target}: {message}")
