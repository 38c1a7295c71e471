"""Render the report document as self-contained HTML (``reports/report.html``) and as Markdown
(``reports/report.md``). Every string is escaped for its format here and nowhere else."""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from datetime import date
from pathlib import Path

from shopper_bayes.report.build import Document, build
from shopper_bayes.report.document import Decision, Figure, Table, Warning

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:960px;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.5;overflow-wrap:anywhere}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:2px solid #0072B2;
padding-bottom:.2rem}.subtitle{color:#555;margin-top:0}
.summary{background:#eef5fb;border-left:4px solid #0072B2;padding:.6rem 1rem .6rem 2rem}
.summary li{margin:.35rem 0}
.banner,.warning{background:#fde8e4;border:2px solid #D55E00;color:#7a2600;padding:.8rem 1rem;font-weight:bold}
.decision{background:#eaf6ef;border-left:4px solid #009E73;padding:.5rem 1rem;margin:.8rem 0}
.decision strong{display:block}
nav.toc{background:#f6f6f6;padding:.5rem 1rem;font-size:.9rem}nav.toc ol{margin:.2rem 0;padding-left:1.2rem}
.scroll{overflow-x:auto;max-width:100%;margin:.8rem 0}
table{border-collapse:collapse;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th,td{overflow-wrap:normal}td.hash{overflow-wrap:anywhere;min-width:12ch}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.csv{font-size:.75rem}a.term{color:inherit;text-decoration:underline dotted}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,caption{color:#555;font-size:.85rem}caption{text-align:left;padding:.2rem 0}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem;
white-space:pre-wrap}.note{color:#555;font-style:italic}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}figure,table{page-break-inside:avoid}}
"""

_HASH = re.compile(r"^[0-9a-f]{32,}$")  # a checksum: wraps anywhere, so a phone need not scroll to read it
_NUMERIC = re.compile(r"^[\s≤≥<>+−\-]*[\d.,]+(%| pp|–[\d.,]+%| to [+−\-]?[\d.,]+( pp|%)?)?$")


def _figures(summary: dict) -> dict[str, dict]:
    return {figure["name"]: figure for figure in summary.get("figures", [])}


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return buffer.getvalue()


# ---------------------------------------------------------------- HTML


def _slug(term: str) -> str:
    return "term-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


# Short forms the report uses for a glossary entry.
ALIASES = {"CrI": "credible interval"}


class _Terms:
    """Links the first use of each glossary term in the running text to its glossary row (with the
    explanation as a tooltip), so a term is explained where it is first met, on a phone too."""

    def __init__(self, entries: dict[str, str]):
        names = {term: term for term in entries} | {alias: term for alias, term in ALIASES.items() if term in entries}
        # Terms that are words; longest first, so "posterior predictive" wins over "posterior".
        self.names = {name: term for name, term in names.items() if re.fullmatch(r"[\w][\w /-]*", name)}
        self.entries, self.seen = entries, set()
        words = sorted(self.names, key=len, reverse=True)
        self.pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, words)) + r")(?![\w-])") if words else None

    def link(self, escaped: str) -> str:
        if self.pattern is None:
            return escaped

        def first(match):
            term = self.names[match.group(1)]
            if term in self.seen:
                return match.group(0)
            self.seen.add(term)
            return (f'<a class="term" href="#{_slug(term)}" title="{html.escape(self.entries[term])}">'
                    f"{match.group(0)}</a>")

        return self.pattern.sub(first, escaped)


def _glossary(doc: Document) -> dict[str, str]:
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, Table) and block.name == "glossary":
                return {row[0]: row[1] for row in block.rows}
    return {}


def _html_table(table: Table) -> str:
    head = "".join(f'<th scope="col">{html.escape(cell)}</th>' for cell in table.header)
    rows = ['<tr id="' + _slug(row[0]) + '">' if table.name == "glossary" else "<tr>" for row in table.rows]
    body = "".join(
        start + "".join(f'<td class="num">{html.escape(c)}</td>' if _NUMERIC.match(c) else
                        f'<td class="hash">{html.escape(c)}</td>' if _HASH.match(c) else f"<td>{html.escape(c)}</td>"
                         for c in row) + "</tr>" for start, row in zip(rows, table.rows))
    link = (f'<div class="csv"><a href="tables/{html.escape(table.name)}.csv">download as CSV</a></div>'
            if table.name else "")
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{link}'


def _html_figure(figure: Figure, figures: dict, figures_root: Path | None) -> str:
    spec = figures.get(figure.name)
    if figures_root is None or spec is None:
        return '<p class="note">Figure not drawn (figures: false in the config).</p>' if figures_root is None else ""
    path = figures_root / spec["file"]
    caption = html.escape(spec["caption"])
    if not path.is_file():
        return f'<p class="note">{caption}: figure file {html.escape(spec["file"])} is missing.</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><a href="../{html.escape(spec["file"])}" title="open full size">'
            f'<img alt="{html.escape(spec["alt"])}" src="data:image/png;base64,{data}"></a>'
            f"<figcaption>{caption}</figcaption></figure>")


def render_html(summary: dict, figures_root: Path | None, analyses=None, doc: Document | None = None) -> str:
    """The self-contained HTML report; figures are embedded from ``figures_root`` (None: switched off)."""
    doc = doc or build(summary, analyses)
    figures = _figures(summary)
    version = summary["versions"].get("shopper-bayes")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(doc.title)}</title>", f"<style>{CSS}</style></head><body>",
             f"<h1>{html.escape(doc.title)}</h1>",
             f'<p class="subtitle">{html.escape(doc.scope)} Rendered {date.today().isoformat()} by shopper-bayes '
             f'{html.escape(str(version))}. <a href="summary.json">summary.json</a> · '
             '<a href="../figures/">figure files</a> · <a href="tables/">tables as CSV</a></p>']
    if doc.banner:
        parts.append(f'<div class="banner" role="alert">{html.escape(doc.banner)}</div>')
    parts.append('<nav class="toc"><strong>Contents</strong><ol><li><a href="#summary">Executive summary</a></li>'
                 + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in doc.sections)
                 + "</ol></nav>")
    terms = _Terms(_glossary(doc))
    parts.append('<h2 id="summary">Executive summary</h2><ul class="summary">'
                 + "".join(f"<li>{terms.link(html.escape(s.text))}</li>" for s in doc.executive) + "</ul>")
    if figures_root is None:
        parts.append('<p class="note">Figures are switched off in the config (figures: false).</p>')
    for section in doc.sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_html_table(block))
            elif isinstance(block, Figure):
                parts.append(_html_figure(block, figures, figures_root))
            elif isinstance(block, Decision):
                parts.append('<div class="decision"><strong>What to do</strong>'
                             + "".join(f"<p>{terms.link(html.escape(line))}</p>" for line in block.lines) + "</div>")
            elif isinstance(block, Warning):
                parts.append(f'<div class="warning" role="alert">{terms.link(html.escape(block.text))}</div>')
            else:
                parts.append(f"<p>{terms.link(html.escape(block))}</p>")
        if section.anchor == "reproducibility":
            parts.append(f"<p>Config used:</p><pre>{html.escape(doc.config_text)}</pre>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- Markdown

# Only what Markdown itself would act on, where it would act on it, so that report.md reads as plain text:
# "New_Customer", "P(A > B)" and "< 0.1%" stay as they are. Never a backslash before a bracket or a round
# bracket: Jupyter's MathJax takes \[ ... \] and \( ... \) for maths.
_MD_ALWAYS = re.compile(r"([\\`*|$])")
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # emphasis needs a _ at a word's edge
_MD_LINK_END = re.compile(r"\](?=[(\[:])")  # "[a](b)", "[a][b]", "[a]: b" make links; a bracket alone does not
_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])|(?<=[\w\"'/])>")  # an HTML tag or autolink; "< 0.1%", "A > B" are text
_MD_TILDE = re.compile(r"~(?=\S)|(?<=\S)~")  # strikethrough needs a tilde touching a word
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")
_MD_LINE_START = re.compile(r"^(\s*)([#>]|[-+](?=\s)|=+\s*$)")
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")


def md_escape(text: str, line_start: bool = True) -> str:
    """Escape what Markdown would act on; line breaks become spaces (tables stay one line). ``line_start``
    False: the text is a table cell, where "> 0.999" or "- 2" start no quote or list."""
    text = _MD_ALWAYS.sub(r"\\\1", str(text).replace("\r", " ").replace("\n", " "))
    for pattern in (_MD_UNDERSCORE, _MD_LINK_END, _MD_TAG, _MD_TILDE, _MD_ENTITY):
        text = pattern.sub(lambda match: "\\" + match.group(0), text)
    if not line_start:
        return text
    text = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MD_ORDERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _md_table(table: Table) -> str:
    lines = [f"*{md_escape(table.caption)}*", ""] if table.caption else []
    lines += ["| " + " | ".join(md_escape(c, False) for c in table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(md_escape(c, False) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def render_markdown(summary: dict, figures_root: Path | None, analyses=None, doc: Document | None = None) -> str:
    """The Markdown report; figures are linked as ``../figures/...`` when present in ``figures_root``."""
    doc = doc or build(summary, analyses)
    figures = _figures(summary)
    version = summary["versions"].get("shopper-bayes")
    lines = [f"# {md_escape(doc.title)}", "", md_escape(doc.scope), "",
             f"Rendered {date.today().isoformat()} by shopper-bayes {md_escape(str(version))}. "
             "[summary.json](summary.json) · [figure files](../figures/) · [tables as CSV](tables/)", "",
             "Contents:", "", "1. [Executive summary](#executive-summary)"]
    lines += [f"{number}. [{md_escape(s.title)}](#{_github_anchor(s.title)})"
              for number, s in enumerate(doc.sections, start=2)] + [""]
    if doc.banner:
        lines += [f"> **{md_escape(doc.banner)}**", ""]
    lines += ["## Executive summary", ""] + [f"- {md_escape(s.text)}" for s in doc.executive] + [""]
    if figures_root is None:
        lines += ["*Figures are switched off in the config (figures: false).*", ""]
    for section in doc.sections:
        lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += [_md_table(block), ""]
            elif isinstance(block, Figure):
                spec = figures.get(block.name)
                if spec and figures_root is not None and (figures_root / spec["file"]).is_file():
                    lines += [f"![{md_escape(spec['alt'])}](../{spec['file']})", "", f"*{md_escape(spec['caption'])}*", ""]
            elif isinstance(block, Decision):
                lines += ["> **What to do**", ">"] + [f"> {md_escape(line)}" for line in block.lines] + [""]
            elif isinstance(block, Warning):
                lines += [f"> **{md_escape(block.text)}**", ""]
            else:
                lines += [md_escape(block), ""]
        if section.anchor == "reproducibility":
            fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", doc.config_text)), default=0) + 1)
            lines += ["Config used:", "", f"{fence}json", doc.config_text, fence, ""]
    return "\n".join(lines)


def write_report(summary: dict, figures_root: Path | None, staging, analyses=None) -> None:
    """Stage report.html, report.md and every named table as reports/tables/<name>.csv."""
    doc = build(summary, analyses)
    staging.path("reports/report.html").write_text(render_html(summary, figures_root, doc=doc), encoding="utf-8")
    staging.path("reports/report.md").write_text(render_markdown(summary, figures_root, doc=doc), encoding="utf-8")
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, Table) and block.name:
                staging.path(f"reports/tables/{block.name}.csv").write_text(table_csv(block), encoding="utf-8")
