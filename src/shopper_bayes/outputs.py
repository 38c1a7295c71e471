"""Atomic outputs: everything is written into a staging folder, then renamed into place.

A run that fails before ``commit`` leaves the previous ``reports/``, ``models/`` and ``figures/``
exactly as they were. Rename is atomic per file on one file system, and the staging folder lives
inside the output directory so it is on the same one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from shopper_bayes.errors import UserError


class Staging:
    """Collect output files under a temporary folder, then move them all into ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=".shopper-bayes-", dir=self.root))
        except OSError as exc:
            raise UserError(self.root, f"output directory cannot be written ({exc.strerror})",
                            "choose a writable folder with --output") from None
        self.files: list[Path] = []

    def path(self, relative: str) -> Path:
        """Where to write ``relative`` (for example ``reports/summary.json``) for now."""
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        self.files.append(Path(relative))
        return target

    def write_json(self, relative: str, data: dict) -> None:
        self.path(relative).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def commit(self) -> list[Path]:
        """Rename every staged file into place and remove the staging folder."""
        try:
            for relative in self.files:
                final = self.root / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.folder / relative, final)
        except OSError as exc:
            raise UserError(self.root, f"outputs could not be moved into place ({exc.strerror})",
                            "check the folder's permissions and free space") from None
        finally:
            self.discard()
        return [self.root / relative for relative in self.files]

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()
