"""The schema of ``reports/summary.json``: a pydantic model composed from the registered analyses'
result types, and its JSON Schema (published as ``schema/summary.schema.json``).

``python -m shopper_bayes.summary_schema PATH`` writes the JSON Schema of the default registry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from shopper_bayes.inference.diagnostics import Diagnostics


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnalysisRows(_Closed):
    """The rows one analysis used: read, used, dropped and changed by reason, and the data scope."""

    dataset: str
    source: str
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    changed: dict[str, int]
    scope: dict[str, Any]


class DatasetEntry(_Closed):
    title: str
    path: str | None
    sha256: str | None
    analyses: dict[str, AnalysisRows]


class FigureEntry(_Closed):
    name: str
    file: str
    caption: str
    alt: str
    analysis: str


def summary_model(analyses=None) -> type[BaseModel]:
    """The whole summary: ``schema_version``, ``data``, one optional entry per analysis, then the run's
    ``skipped``, combined ``diagnostics``, ``figures``, ``config`` and ``versions``."""
    if analyses is None:
        from shopper_bayes.analyses.registry import default_analyses

        analyses = default_analyses()
    fields = {"schema_version": (int, ...), "data": (dict[str, DatasetEntry], ...)}
    fields |= {analysis.key: (analysis.result | None, None) for analysis in analyses}
    fields |= {"skipped": (dict[str, str], ...), "diagnostics": (Diagnostics | None, ...),
               "figures": (list[FigureEntry], ...), "config": (dict[str, Any], ...),
               "versions": (dict[str, str | None], ...)}
    return create_model("Summary", __base__=_Closed, **fields)


def json_schema(analyses=None) -> dict:
    schema = summary_model(analyses).model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "shopper-bayes reports/summary.json, schema version 2"
    return schema


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):  # `--help` once wrote the schema to a file named --help
        print("usage: python -m shopper_bayes.summary_schema PATH   (writes the JSON Schema of summary.json to PATH)",
              file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
