"""The terminal: `out` for results, `err` for progress and diagnostics (rich, colour only on a
terminal, NO_COLOR honoured), made on first use so commands that print little stay fast."""

from __future__ import annotations


class _LazyConsole:
    """A rich Console made on first use: commands that print little do not pay for importing rich."""

    def __init__(self, **options):
        self._options = options
        self._console = None

    def real(self):
        """The rich Console itself, for code that needs the object (rich.live.Live)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str):
        return getattr(self.real(), name)

    def __enter__(self):
        return self.real().__enter__()

    def __exit__(self, *exc):
        return self.real().__exit__(*exc)


def Table(*args, **kwargs):  # noqa: N802 - stands in for rich.table.Table, imported when a table is drawn
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


out = _LazyConsole(highlight=False)
err = _LazyConsole(stderr=True, highlight=False)
