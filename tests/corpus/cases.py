"""The bad-input corpus: every case is an input and the outcome it must have.

A case is a sessions file (text or bytes, written to a temporary folder under the case's name), the
config options it runs with, and one expected outcome:

- ``Refused(text)``: ``shopper-bayes run`` exits with status 2 and prints one line on stderr,
  ``error: <where>: <what>; <what to do>``, containing ``text``; the previous outputs are untouched.
- ``Cleaned(dropped)``: the loader keeps going and counts every dropped row by reason, exactly
  ``dropped`` (first broken rule wins; the counts add up to rows read - rows used).

The base file has six good sessions in November and December; a case adds broken rows to it or
replaces it. ``tests/test_bad_input.py`` runs every case; README.md ("Bad input") lists the rules.
"""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from dataclasses import dataclass, field

HEADER = "SessionID,Administrative_Duration,Informational_Duration,ProductRelated_Duration,Month,CustomerType,Purchase"
GOOD = [
    "1,0,0,10.5,Nov,Returning_Customer,0",
    "2,3,0,120,Nov,Returning_Customer,1",
    "3,0,12,33.25,Dec,Returning_Customer,0",
    "4,1,0,7,Dec,New_Customer,1",
    "5,0,0,0,Nov,New_Customer,0",
    "6,2,5,60,Dec,New_Customer,0",
]
FILTER = "outside sessions.filter (month in Nov, Dec)"
FLAG = "Purchase not a 0/1, true/false or yes/no flag"
FEWER, MORE = "fewer fields than the header", "more fields than the header"


def csv(*rows: str, header: str = HEADER, good: bool = True, sep: str = ",", end: str = "\n") -> str:
    """The header and base rows (unless ``good`` is False) separated by ``sep``, then ``rows`` verbatim."""
    lines = [line.replace(",", sep) for line in [header, *(GOOD if good else [])]] + list(rows)
    return end.join(lines) + end


def parquet(text: str) -> bytes:
    """``text`` (CSV) as a Parquet file with typed columns: numbers, and Purchase as booleans."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(io.BytesIO(text.encode()))
    table = table.set_column(table.column_names.index("Purchase"), "Purchase",
                             table["Purchase"].cast(pa.bool_()))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def xlsx_like() -> bytes:
    """A zip archive laid out like an Excel workbook (what a .xlsx saved as .csv looks like)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def garbage(alphabet: range, size: int = 4096, seed: int = 8) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(alphabet) for _ in range(size))


class Folder:
    """In place of file content: the sessions path is an empty folder."""


@dataclass(frozen=True)
class Refused:
    message: str


@dataclass(frozen=True)
class Cleaned:
    dropped: dict[str, int]
    rows_used: int | None = None
    sessions: dict[str, int] | None = None  # sessions per segment cell ("A" or "A / Nov"), zeros included
    changed: dict[str, int] | None = None


@dataclass(frozen=True)
class Case:
    name: str
    data: str | bytes | Folder | None  # None: no sessions file is written
    expected: Refused | Cleaned
    suffix: str = ".csv"
    config: dict = field(default_factory=dict)  # merged into the base config section by section
    config_text: str | bytes | None = None  # the config file verbatim; "{data}" is the data path
    write_config: bool = True
    output: str | None = None  # "parent-is-file", "is-file", or an absolute path; default a fresh folder


CASES = [
    # --- the file as a whole -------------------------------------------------------------------
    Case("missing file", None, Refused("file not found")),
    Case("path is a folder without data files", Folder(), Refused("the folder has no .parquet or .csv files")),
    Case("empty file", "", Refused("the file is empty")),
    Case("only blank lines", "\n  \n\n", Refused("the file is empty")),
    Case("header only", HEADER + "\n", Refused("has a header but no data rows")),
    Case("binary garbage", garbage(range(256)), Refused("is binary, not CSV text")),
    Case("high bytes, no NUL", garbage(range(0x80, 0x100)), Refused("is not UTF-8 text (line 1)")),
    Case("latin-1 text", csv("7,0,0,1,Nov,Caf\xe9_Customer,1").encode("latin-1"), Refused("is not UTF-8 text (line 8)")),
    Case("UTF-16 text", csv().encode("utf-16"), Refused("is UTF-16 text")),
    Case("CSV named .parquet", csv(), Refused("is not a Parquet file although its name ends in .parquet"), suffix=".parquet"),
    Case("Parquet named .csv", parquet(csv()), Refused("is a Parquet file but its name does not end in .parquet")),
    Case("truncated Parquet file", parquet(csv())[:300], Refused("is a Parquet file cut short (it lacks the end every Parquet file has); copy or write the file again; sessions.path"),
         suffix=".parquet"),
    Case("Excel workbook named .csv", xlsx_like(), Refused("is a zip archive or an Excel workbook")),
    Case("gzip-compressed CSV", gzip.compress(csv().encode()), Refused("is gzip-compressed")),
    Case("unknown delimiter", csv(sep="#"), Refused("the header was read as one column")),
    # A duration is read by the correlations only, after the purchase rates and the campaign have run; the
    # campaign is off here because on six sessions its rate posterior reaches rates that its boosts push past 1.
    Case("comma decimals in a ; file", csv("7;0;0;12,5;Nov;New_Customer;1", sep=";"),
         Refused("column ProductRelated_Duration: '12,5' has a comma inside a number (1 such value)"),
         config={"campaign": {"enabled": False}}),
    Case("thousands separator", csv('7,0,0,"1,234.5",Nov,New_Customer,1'), Refused("'1,234.5' has a comma inside a number"),
         config={"campaign": {"enabled": False}}),
    Case("missing required column", csv(header=HEADER.replace("Purchase", "Bought")),
         Refused("no column 'Purchase' (the file has: SessionID,")),
    Case("column named twice", csv(header=HEADER.replace("SessionID", "Purchase")),
         Refused("the header names column 'Purchase' more than once")),
    Case("every row broken", csv("7,0,0", "8,0", good=False), Refused(f"no rows left after cleaning and filtering ({FEWER}: 2)")),
    Case("every purchase value unknown", csv("7,0,0,1,Nov,New_Customer,bought", "8,0,0,1,Nov,New_Customer,2", good=False),
         Refused(f"({FLAG}: 2)")),
    Case("every month unknown", csv("7,0,0,1,Smarch,New_Customer,1", "8,0,0,1,13,New_Customer,0", good=False),
         Refused("no rows left after cleaning and filtering (Month not a month name: 2)")),
    Case("filter removes every row", csv(), Refused("no rows left after cleaning and filtering (outside sessions.filter (month in Jan): 6)"),
         config={"sessions": {"filter": {"month": ["Jan"]}}}),
    Case("filter value not a month", csv(), Refused("sessions.filter.month: 'Smarch' is not a month name"),
         config={"sessions": {"filter": {"month": ["Smarch"]}}}),
    Case("session id column named but absent", csv(), Refused("no column 'VisitID'"),
         config={"sessions": {"columns": {"session_id": "VisitID"}}}),
    Case("purchase column as a segment", csv(), Refused("rates.segments: 'purchase' is the purchase column"),
         config={"rates": {"segments": ["purchase"]}}),
    # --- the campaign against the data (found once the campaign reads its own counts) -----------
    Case("campaign segment absent, a level with a line break", csv('7,0,0,1,Nov,"New\nvia email",1'),
         Refused("campaign.segment: 'Loyal' is not a level of segment in the data (levels: New\\nvia email, New_Customer,"),
         config={"campaign": {"segment": "Loyal"}}),
    Case("campaign segment with no sessions", csv("7,0,0,1,Oct,Loyal,1"),
         Refused("campaign.segment: {'segment': 'New_Customer', 'month': 'Oct'} has no sessions after filtering"),
         config={"sessions": {"filter": {"month": ["Oct", "Nov", "Dec"]}}, "rates": {"segments": ["segment", "month"]},
                 "campaign": {"segment": {"segment": "New_Customer", "month": "Oct"}}}),
    Case("campaign names a mapping with a level absent", csv(),
         Refused("campaign.segment: 'Jan' is not a level of month in the data (levels: Nov, Dec)"),
         config={"campaign": {"segment": {"segment": "New_Customer", "month": "Jan"}}}),
    # --- the config ----------------------------------------------------------------------------
    Case("config file missing", csv(), Refused("config file not found"), write_config=False),
    Case("config is invalid YAML", csv(), Refused("config.yaml:3: invalid YAML (expected ',' or ']', but got '<stream end>')"), config_text="sessions:\n  path: [{data}\n"),
    Case("config runs code (python tag)", csv(), Refused("could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
         config_text='sessions: {path: "{data}"}\nseed: !!python/object/apply:os.system ["touch pwned"]\n'),
    Case("config key given twice", csv(), Refused("key 'seed' appears twice"), config_text='sessions: {path: "{data}"}\nseed: 1\nseed: 2\n'),
    Case("config is a list", csv(), Refused("must be a mapping of option: value"), config_text="- seed: 1\n"),
    Case("config not UTF-8", csv(), Refused("is not UTF-8 text; save the config as UTF-8 YAML"),
         config_text='sessions: {path: "{data}"}\n# r\xe9sum\xe9\n'.encode("latin-1")),
    Case("unknown config key", csv(), Refused("rates.segmnets: unknown key"), config={"rates": {"segmnets": ["segment"]}}),
    Case("wrong type", csv(), Refused("sampler.draws: Input should be a valid integer"), config={"sampler": {"draws": "many"}}),
    Case("negative campaign sessions", csv(), Refused("campaign.sessions: Input should be greater than or equal to 1"),
         config={"campaign": {"sessions": -5}}),
    Case("target above sessions", csv(), Refused("target (600) is above sessions (500): it can never be reached"),
         config={"campaign": {"target": 600}}),
    Case("boost of -100% or less", csv(), Refused("campaign: a relative boost of -1.5 would remove every purchase: it must be above -1"), config={"campaign": {"boost": -1.5}}),
    Case("negative seed", csv(), Refused("seed: Input should be greater than or equal to 0"), config={"seed": -1}),
    Case("infinite prior", csv(), Refused("rates.prior.alpha: Input should be a finite number"), config={"rates": {"prior": {"alpha": float("inf")}}}),
    Case("no segment columns", csv(), Refused("rates.segments: List should have at least 1 item"), config={"rates": {"segments": []}}),
    # --- the output folder (tests run as root, so a read-only folder would not stop them) -------
    Case("output folder inside a regular file", csv(), Refused("output directory cannot be written (Not a directory)"), output="parent-is-file"),
    Case("output is a regular file", csv(), Refused("is a file, not a folder"), output="is-file"),
    Case("output inside /proc", csv(), Refused("output directory cannot be written"), output="/proc/shopper-bayes-test/out"),
    # --- rows cleaned and counted --------------------------------------------------------------
    Case("clean file", csv(), Cleaned({}, rows_used=6, sessions={"New_Customer": 3, "Returning_Customer": 3})),
    Case("purchase values outside the flags", csv("7,0,0,1,Nov,New_Customer,maybe", "8,0,0,1,Nov,New_Customer,2",
                                                  "9,0,0,1,Nov,New_Customer,-1"), Cleaned({FLAG: 3}, rows_used=6)),
    Case("purchase flags in every spelling", csv(*(f"{7 + i},0,0,1,Dec,New_Customer,{flag}" for i, flag in
                                                   enumerate(["TRUE", "false", "Yes", "no", " y ", "N", "1.0", "0.0", "t", "F"]))),
         Cleaned({}, rows_used=16, sessions={"New_Customer": 13, "Returning_Customer": 3})),
    Case("non-numeric durations", csv("7,abc,0,1,Nov,New_Customer,1", "8,0,12s,1,Nov,New_Customer,1", "9,0,0,inf,Nov,New_Customer,1",
                                      "10,0,0,0x1A,Nov,New_Customer,1"),
         Cleaned({"Administrative_Duration not a number": 1, "Informational_Duration not a number": 1,
                  "ProductRelated_Duration not a number": 2})),
    Case("negative durations", csv("7,-1,0,1,Nov,New_Customer,1", "8,0,0,-0.5,Nov,New_Customer,1"),
         Cleaned({"Administrative_Duration negative": 1, "ProductRelated_Duration negative": 1})),
    Case("missing values in every column", csv(",0,0,1,Nov,New_Customer,1", "8,,0,1,Nov,New_Customer,1", "9,0,NA,1,Nov,New_Customer,1",
                                               "10,0,0,n/a,Nov,New_Customer,1", "11,0,0,1,,New_Customer,1", "12,0,0,1,Nov,null,1",
                                               "13,0,0,1,Nov,New_Customer,", "14,0,0,1,Nov,  ,None", "15,0,0,1,#N/A,New_Customer,0"),
         Cleaned({"Purchase missing": 2, "CustomerType missing": 1, "Month missing": 2, "Administrative_Duration missing": 1,
                  "Informational_Duration missing": 1, "ProductRelated_Duration missing": 1, "SessionID missing": 1}, rows_used=6)),
    Case("duplicated session ids", csv("1,0,0,1,Nov,New_Customer,1", "2,0,0,1,Dec,New_Customer,0", " 2 ,0,0,1,Dec,New_Customer,0"),
         Cleaned({"duplicate SessionID": 3}, rows_used=6, sessions={"New_Customer": 3, "Returning_Customer": 3})),
    Case("duplicate id after a broken first copy", csv("7,0,0,1,Nov,New_Customer,maybe", "7,0,0,1,Nov,New_Customer,1"),
         Cleaned({FLAG: 1}, rows_used=7, sessions={"New_Customer": 4, "Returning_Customer": 3})),
    Case("no session id column: identical rows kept", csv("0,0,1,Nov,New_Customer,1", "0,0,1,Nov,New_Customer,1",
                                                          header=HEADER.removeprefix("SessionID,"), good=False),
         Cleaned({}, rows_used=2)),
    Case("session id check turned off", csv("1,0,0,1,Nov,New_Customer,1"), Cleaned({}, rows_used=7),
         config={"sessions": {"columns": {"session_id": None}}}),
    Case("too few fields", csv("7,0,0,1,Nov,New_Customer", "8,0,0"), Cleaned({FEWER: 2}, rows_used=6)),
    Case("too many fields", csv("7,0,0,1,Nov,New_Customer,1,extra", "8,0,0,1,Nov,New_Customer,1,,x"), Cleaned({MORE: 2}, rows_used=6)),
    Case("empty fields after the last column", csv("7,0,0,1,Nov,New_Customer,1,", "8,0,0,1,Nov,New_Customer,1,,"),
         Cleaned({}, rows_used=8)),
    Case("truncated last line, no newline", csv("7,1,14.5,0,Nov,New_Customer,1") + "8,1,14.5,0,0,24", Cleaned({FEWER: 1}, rows_used=7)),
    Case("mixed delimiters", csv("7;0;0;1;Nov;New_Customer;1", "8;0;0;1;Dec;New_Customer;0"), Cleaned({FEWER: 2}, rows_used=6)),
    Case("semicolon delimiter", csv(sep=";"), Cleaned({}, rows_used=6)),
    Case("tab delimiter", csv(sep="\t"), Cleaned({}, rows_used=6)),
    Case("BOM and CRLF line ends", "\ufeff" + csv(end="\r\n"), Cleaned({}, rows_used=6)),
    Case("quoted commas and line breaks in labels", csv('7,0,0,1,Nov,"New, via\nemail",1', '8,0,0,1,Nov,"New, via\nemail",0'),
         Cleaned({}, rows_used=8, sessions={"New_Customer": 3, "New, via\nemail": 2, "Returning_Customer": 3})),
    Case("unicode and whitespace in labels", csv("7,0,0,1,Nov,Café ☕,1", "8,0,0,1,Nov,  Café ☕  ,0", "9,0,0,1,Nov,\tCafé ☕,0"),
         Cleaned({}, rows_used=9, sessions={"Café ☕": 3, "New_Customer": 3, "Returning_Customer": 3})),
    Case("months in every spelling", csv("7,0,0,1,November,New_Customer,1", "8,0,0,1,dec,New_Customer,1", "9,0,0,1,12,New_Customer,1",
                                         "10,0,0,1, 11 ,New_Customer,1", "11,0,0,1,Smarch,New_Customer,1", "12,0,0,1,13,New_Customer,1",
                                         "13,0,0,1,Sept,New_Customer,1"),
         Cleaned({"Month not a month name": 2, FILTER: 1}, rows_used=10,
                 changed={"Month spelling normalised (e.g. June -> Jun)": 5})),
    Case("Parquet with typed columns", parquet(csv()), Cleaned({}, rows_used=6), suffix=".parquet"),
    Case("blank lines between rows", csv("", "7,0,0,1,Nov,New_Customer,1", ""), Cleaned({}, rows_used=7)),
    Case("single segment", csv(*(f"{i},0,0,{i},{'Nov' if i % 2 else 'Dec'},Returning_Customer,{i % 3 == 0:d}" for i in range(1, 9)), good=False),
         Cleaned({}, rows_used=8, sessions={"Returning_Customer": 8})),
    Case("segment cell with no sessions", csv(*GOOD[:3], "4,0,0,0,Nov,New_Customer,0", "5,0,0,0,Dec,Returning_Customer,1", good=False),
         Cleaned({}, rows_used=5, sessions={"New_Customer / Nov": 1, "New_Customer / Dec": 0,
                                            "Returning_Customer / Nov": 2, "Returning_Customer / Dec": 2}),
         config={"rates": {"segments": ["segment", "month"]}}),
]
