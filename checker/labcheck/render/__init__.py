"""Renderers: the same results as terminal text, JSON or JUnit XML.

Each is imported when used: a one-shot `labcheck` should not load the JUnit
library to print text.
"""

from __future__ import annotations


def render_text(*args, **kwargs):
    from .text import render_text as render

    return render(*args, **kwargs)


def render_json(*args, **kwargs):
    from .json_out import render_json as render

    return render(*args, **kwargs)


def render_junit(*args, **kwargs):
    from .junit import render_junit as render

    return render(*args, **kwargs)


__all__ = ["render_json", "render_junit", "render_text"]
