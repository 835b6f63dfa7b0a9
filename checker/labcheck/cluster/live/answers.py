"""What the API and its exec streams answered, as text for a one-line message."""

from __future__ import annotations

import json
from typing import Any


def as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def first_line(exc: Any) -> str:
    text = str(exc).strip()
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def status_message(body: Any, fallback: Any) -> str:
    """The message of a Kubernetes Status answer, or the fallback when the body is not one."""
    import ast

    text = as_text(body).strip()
    if text.startswith(("b'", 'b"')):  # older websocket-client put the body's repr in the message
        try:
            text = as_text(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            pass
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("message"):
        return first_line(status["message"])
    return str(fallback or "no reason given")
