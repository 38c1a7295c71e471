"""The README's "Use from Python" code runs as written, from the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_python_recipe_in_the_readme_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "no python code in the README's Use from Python section"
    done = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=os.environ | {"MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Returning_Customer" in done.stdout
