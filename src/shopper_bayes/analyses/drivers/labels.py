"""Input names as a reader says them: "product related duration" for the column ProductRelated_Duration.

Only column names are rewritten, never the data's level names ("segment: New_Customer" keeps its level); the
methods text lists every label with its raw column name.
"""

from __future__ import annotations

import re

from shopper_bayes.analyses.drivers.results import DriversResult


def column_label(name: str) -> str:
    """Split CamelCase and underscores into lower-case words: PageValues -> page values."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    return " ".join(word.lower() for word in words) or name


def columns(result: DriversResult) -> list[str]:
    """The raw column names the effects' terms are built from ("column", "column: level", "column²",
    "column > 0: positive", and products of these joined by " × ")."""
    found = []
    for effect in result.effects:
        for part in effect.term.split(" × "):
            name = part.split(": ")[0].removesuffix("²").removesuffix(" > 0")
            if name not in found:
                found.append(name)
    return found


def labeller(result: DriversResult):
    """A function rewriting every raw column name in a term or unit text into its label."""
    names = sorted(columns(result), key=len, reverse=True)
    if not names:
        return lambda text: text
    # ASCII word edges: "²" counts as a word character for \w, and "ProductRelated_Duration²" must match.
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_])")
    return lambda text: pattern.sub(lambda match: column_label(match.group(1)), text)


def methods_line(result: DriversResult) -> str | None:
    renamed = [(column_label(name), name) for name in columns(result) if column_label(name) != name]
    if not renamed:
        return None
    return "Inputs are labelled in words; their columns: " + "; ".join(f"{label} is {name}" for label, name in renamed) + "."
