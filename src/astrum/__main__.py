"""``python -m astrum``: the same as the ``astrum`` command."""

from __future__ import annotations

from astrum._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
