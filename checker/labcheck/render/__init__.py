"""Renderers: the same results as terminal text, JSON or JUnit XML."""

from .json_out import render_json
from .junit import render_junit
from .text import render_text

__all__ = ["render_json", "render_junit", "render_text"]
