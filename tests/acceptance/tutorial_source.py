"""The official tutorials stored verbatim under ``data/`` and the edits a test makes to them.

Each edit is an ``(old, new)`` pair that must match the stored text exactly ``count`` times
(default once), so that a tutorial updated upstream fails loudly instead of silently running
unedited code.
"""

from __future__ import annotations

import os

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load(path: str, *edits: tuple) -> str:
    """The text of ``data/<path>`` with each ``(old, new[, count])`` edit applied."""
    with open(os.path.join(DATA, path), encoding="utf-8") as f:
        text = f.read()
    for edit in edits:
        old, new = edit[0], edit[1]
        count = edit[2] if len(edit) > 2 else 1
        found = text.count(old)
        if found != count:
            raise AssertionError(f"{path}: expected {count} of {old!r}, found {found}")
        text = text.replace(old, new)
    return text
