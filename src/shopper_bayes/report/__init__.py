"""The report: a format-neutral document built from ``summary.json``, rendered as HTML, Markdown and
console text."""
