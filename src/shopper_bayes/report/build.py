"""Assemble the report document from ``summary.json`` content: the shared parts (scope, data and
cleaning, diagnostics, limitations, methods, glossary, reproducibility) around each analysis's own
section, which the analysis builds from its typed result."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from shopper_bayes.report.document import Section, Sentence, Table, Warning
from shopper_bayes.report.glossary import GLOSSARY

TITLE = "Customer behaviour: who buys, what goes together, what pays"


@dataclass
class Document:
    title: str
    scope: str
    banner: str | None
    executive: list[Sentence]
    sections: list[Section] = field(default_factory=list)
    config_text: str = ""


def _default_analyses():
    from shopper_bayes.analyses.registry import default_analyses

    return default_analyses()


def scope_text(summary: dict, titles: dict[str, str] | None = None) -> str:
    """What the numbers cover: each dataset, its filter (and the analyses that read all rows when the others
    are filtered) and its date range, or that the file has none."""
    titles = titles or {}
    parts = []
    for name, data in summary["data"].items():
        scopes = {key: use.get("scope") or {} for key, use in data["analyses"].items()}
        filters = sorted({s["filter"] for s in scopes.values() if s.get("filter")})
        ranges = sorted({tuple(s["date_range"]) for s in scopes.values() if s.get("date_range")})
        text = f"{data['title'].lower()} from {data['path']}"
        if filters:
            text += f", filtered to {'; '.join(filters)}"
            unfiltered = [titles.get(key, key.replace("_", " ")) for key, s in scopes.items() if not s.get("filter")]
            if unfiltered:
                text += f" (except {', '.join(unfiltered)}: all rows)"
        if ranges:
            text += f", {ranges[0][0]} to {ranges[0][1]}"
        elif not any("date_range" in s for s in scopes.values()):
            text += ", no date column"
        parts.append(text)
    return "Data: " + "; ".join(parts) + "." if parts else "No data analysed."


def _sessions_used(summary: dict) -> bool:
    """Whether the run read session data (its caveats about sessions apply only then)."""
    return "sessions" in summary.get("data", {})


def gate_sentence(diagnostics: dict | None, sessions: bool = True) -> Sentence | None:
    if diagnostics is None:
        return None
    if not diagnostics["ok"]:
        return Sentence("A model fit FAILED its checks: do not cite the numbers it feeds until it is repaired "
                        "(see Model diagnostics).")
    return Sentence(
        "Every fitted posterior passed the sampling checks (R-hat, effective sample size, divergences, BFMI): the "
        "samplers computed what the models say. That does not make the models right: the checks test neither "
        "whether a model fits the data (the predictive checks do) nor whether rows are independent"
        + (" (sessions of one returning customer are not)" if sessions else "")
        + "; the Limitations section says what the models leave out.")


def build(summary: dict, analyses=None) -> Document:
    analyses = _default_analyses() if analyses is None else analyses
    present = [(a, a.result.model_validate(summary[a.key])) for a in analyses if summary.get(a.key) is not None]
    diagnostics = summary.get("diagnostics")
    banner = None
    if diagnostics and not diagnostics["ok"]:
        banner = ("Warning: a model fit did not pass its convergence checks (" + "; ".join(diagnostics["problems"])
                  + "). Do not cite the numbers it feeds until the fit is repaired.")
    scope = scope_text(summary, {analysis.key: analysis.title for analysis in analyses})
    executive = [Sentence(scope)]
    for analysis, result in present:
        executive += analysis.headline(result)
    gate = gate_sentence(diagnostics, _sessions_used(summary))
    if gate:
        executive.append(gate)
    doc = Document(TITLE, scope, banner, executive, config_text=json.dumps(summary["config"], indent=2, ensure_ascii=False))
    doc.sections.append(data_section(summary, {analysis.key: analysis.title for analysis in analyses}))
    for analysis, result in present:
        section = analysis.section(result)
        section.anchor = section.anchor or analysis.key
        doc.sections.append(section)
    if summary.get("skipped"):
        doc.sections.append(Section("Analyses not run", [Table(["analysis", "why"], [[key, why] for key, why in
                                                                                    summary["skipped"].items()])],
                                    anchor="skipped"))
    if diagnostics:
        doc.sections.append(diagnostics_section(diagnostics, _sessions_used(summary)))
    doc.sections.append(limitations_section(doc, _sessions_used(summary)))
    methods = Section("Methods", anchor="methods")
    for section in doc.sections:
        if section.methods:
            methods.blocks.append(f"{section.title}.")
            methods.blocks += section.methods
    doc.sections.append(methods)
    doc.sections.append(glossary_section(doc))
    doc.sections.append(reproducibility_section(summary))
    for section in doc.sections:
        section.anchor = section.anchor or re.sub(r"[^a-z0-9]+", "-", section.title.lower()).strip("-")
    return doc


def data_section(summary: dict, titles: dict[str, str] | None = None) -> Section:
    """Rows read, used and dropped per analysis, each analysis by its section title."""
    titles = titles or {}
    out = Section("Data and cleaning", anchor="data")
    for name, data in summary["data"].items():
        out.blocks.append(f"{data['title']}: {data['path']}.")
        rows = []
        for key, use in data["analyses"].items():
            dropped = "; ".join(f"{reason}: {count:,}" for reason, count in use["dropped"].items()) or "none"
            rows.append([titles.get(key, key), f"{use['rows_read']:,}", f"{use['rows_used']:,}", dropped])
        out.blocks.append(Table(["analysis", "rows read", "rows used", "dropped, by reason"], rows, name=f"cleaning_{name}"))
        changed = {reason: count for use in data["analyses"].values() for reason, count in use.get("changed", {}).items()}
        if changed:
            out.blocks.append(Table(["value rewritten", "rows"], [[r, f"{c:,}"] for r, c in changed.items()],
                                    name=f"cleaning_{name}_changed"))
    return out


def diagnostics_section(checks: dict, sessions: bool = True) -> Section:
    limits = checks["thresholds"]
    out = Section("Model diagnostics", anchor="diagnostics", terms=["MCMC", "R-hat", "ESS", "divergences", "BFMI"])
    methods = {result["method"] for gate in (checks.get("by_model") or {}).values()
               for result in (gate.get("by_model") or {"": gate}).values()}
    if checks["ok"]:
        out.blocks.append("Every fit passed every check below."
                          + (" Draws from an exact conjugate posterior are independent and pass by construction;"
                             " MCMC fits were checked chain by chain." if "exact" in methods else
                             " They were checked chain by chain."))
    else:
        out.blocks.append(Warning("NOT CONVERGED: " + "; ".join(checks["problems"]) + ". Do not cite these intervals."))

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    out.blocks.append(Table(["check (worst over every fit and variable)", "value", "required"], [
        ["largest R-hat", fmt(checks["max_rhat"], ".4f"), f"≤ {limits['max_rhat']}"],
        ["smallest bulk ESS", fmt(checks["min_ess_bulk"], ".0f"), f"≥ {limits['min_ess']:.0f}"],
        ["smallest tail ESS", fmt(checks["min_ess_tail"], ".0f"), f"≥ {limits['min_ess']:.0f}"],
        ["largest MCSE of a mean, in posterior sds", fmt(checks["max_mcse_ratio"], ".3f"), f"≤ {limits['max_mcse_ratio']}"],
        ["divergent transitions", f"{checks['divergences']}", f"≤ {limits['max_divergences']}"],
        ["smallest energy BFMI of a chain", fmt(checks["min_bfmi"], ".2f"), f"≥ {limits['min_bfmi']}"],
    ], name="diagnostics"))
    rows = []
    for analysis, gate in (checks.get("by_model") or {}).items():
        for model, result in (gate.get("by_model") or {analysis: gate}).items():
            label = model if model.startswith(analysis) else f"{analysis}: {model}"
            for row in result["variables"]:
                rows.append([label, result["method"], row["variable"], f"{row['max_rhat']:.4f}", f"{row['min_ess_bulk']:.0f}",
                             f"{row['min_ess_tail']:.0f}", f"{row['max_mcse_ratio']:.3f}"])
    out.blocks.append(Table(["fit", "inference", "variable", "R-hat", "bulk ESS", "tail ESS", "MCSE / sd"], rows,
                            name="diagnostics_by_variable"))
    out.blocks.append("What these checks do not cover: whether the model is right for the data (see the predictive "
                      "checks), and whether rows are independent"
                      + (" (sessions of one returning customer are not)." if sessions else "."))
    return out


def limitations_section(doc: Document, sessions: bool = True) -> Section:
    lines = ["Observational data: every difference and association here describes who did what, not what causes it."]
    if sessions:
        lines.append("Sessions of one customer are not independent; the models treat them as if they were, so intervals "
                     "are somewhat too narrow where a few customers have many sessions.")
    lines += [f"{section.title}: {text}" for section in doc.sections for text in section.limitations]
    return Section("Limitations", lines, anchor="limitations")


def glossary_section(doc: Document) -> Section:
    used = list(dict.fromkeys(term for section in doc.sections for term in section.terms if term in GLOSSARY))
    return Section("Glossary", [Table(["term", "meaning"], [[term, GLOSSARY[term]] for term in used], name="glossary")],
                   anchor="glossary")


def reproducibility_section(summary: dict) -> Section:
    out = Section("Reproducibility", anchor="reproducibility")
    out.blocks.append(Table(["data file", "SHA-256"], [[d["path"], d["sha256"]] for d in summary["data"].values()],
                            name="data_files"))
    out.blocks.append(f"Seed {summary['config']['seed']}. The same config and seed give the same summary.json "
                      f"(schema version {summary['schema_version']}).")
    out.blocks.append(Table(["package", "version"], [[name, str(v)] for name, v in summary["versions"].items()],
                            name="versions"))
    return out
