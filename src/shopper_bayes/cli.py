"""Command line: ``shopper-bayes run [--config FILE] [--output DIR] [--strict]``,
``shopper-bayes campaign [--config FILE] [--output DIR] [--segment ...] [--boost ...] ...``,
``shopper-bayes report [--output DIR]`` and ``shopper-bayes generate KIND --rows N [--seed S] --out FILE``.

Problems a user can fix are printed as one line, ``error: <where>: <what>; <what to do>``, with exit
status 2. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import warnings
from pathlib import Path

from shopper_bayes.errors import UserError, one_line

EXIT_USER_ERROR = 2
EXIT_NOT_CONVERGED = 3


def _parser() -> argparse.ArgumentParser:
    from shopper_bayes.generate import DROPOUTS, KINDS

    parser = argparse.ArgumentParser(prog="shopper-bayes", description="Bayesian analysis of e-commerce customer behaviour.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run every analysis on every configured dataset and write reports, models and figures")
    run.add_argument("--config", default="config.yaml", type=Path, help="config file (default: config.yaml)")
    run.add_argument("--output", default=Path("."), type=Path, help="folder for reports/, models/, figures/ (default: .)")
    run.add_argument("--strict", action="store_true", help=f"exit with status {EXIT_NOT_CONVERGED} when the chains did not converge")
    run.add_argument("--quiet", action="store_true", help="print only errors and warnings")
    run.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                     help="processes that run the analyses of different datasets at once (default: 2, or 1 on one core)")
    # SUPPRESS: without it the subcommand's default would reset a `--debug` given before `run`.
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    plan = commands.add_parser("campaign", help="campaign outlook only, reusing the posterior a run saved in models/")
    plan.add_argument("--config", default="config.yaml", type=Path, help="config file (default: config.yaml)")
    plan.add_argument("--output", default=Path("."), type=Path,
                      help="folder with models/ from a run; reports/campaign.json is written here (default: .)")
    plan.add_argument("--segment", help="segment level, or 'level / level' for several segment columns")
    plan.add_argument("--boost", type=float, help="campaign effect, e.g. 0.15 (relative: +15%%) or 0.03 (absolute: +3 pp)")
    plan.add_argument("--boost-type", choices=["relative", "absolute"], help="how the boost applies to the rate")
    plan.add_argument("--boost-sd", type=float, help="uncertainty of the boost (one standard deviation, same units)")
    plan.add_argument("--sessions", type=int, help="sessions the campaign brings")
    plan.add_argument("--target", type=int, help="sales wanted (at least)")
    plan.add_argument("--prob-wanted", type=float, help="probability wanted for the inverse answers, e.g. 0.9")
    plan.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    report = commands.add_parser("report", help="re-render reports/report.html and report.md from an existing run")
    report.add_argument("--output", default=Path("."), type=Path, help="the folder a run wrote into (default: .)")
    report.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    generate = commands.add_parser("generate", help="write mock data with planted structure, and its ground truth as JSON")
    generate.add_argument("kind", choices=list(KINDS), help="what to generate")
    size = generate.add_mutually_exclusive_group(required=True)
    for unit in dict.fromkeys(KINDS.values()):
        kinds = ", ".join(kind for kind, counted in KINDS.items() if counted == unit)
        size.add_argument(f"--{unit}", type=int, dest=f"n_{unit}", metavar="N", help=f"number of {unit} ({kinds})")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default: 0); the same seed gives the same file")
    generate.add_argument("--dropout", choices=DROPOUTS, default=None,
                          help="transactions: how customers drop out (default every_purchase, the MBG/NBD; "
                               "repeat_purchase is the BG/NBD and any_time the Pareto/NBD that clv.model fits)")
    generate.add_argument("--out", type=Path, required=True,
                          help="output file, .csv or .parquet; the ground truth goes beside it as .truth.json")
    generate.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return parser


class Progress:
    """One line per step with the time the previous step took, on a terminal only (stderr); silent in
    pipes, CI and with --quiet."""

    def __init__(self, quiet: bool):
        import time

        self.clock = time.perf_counter
        self.on = not quiet and sys.stderr.isatty()
        self.console = None
        if self.on:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)
        self.started = self.last = self.clock()
        self.current: str | None = None
        self.process = os.getpid()  # the process that began the current step

    def __call__(self, text: str | None) -> None:
        """Begin the step ``text``, ending the current one; None only ends it (a worker process's last step)."""
        self._close()
        self.current, self.process = text, os.getpid()
        if self.on and text is not None:
            self.console.print(f"[bold]→[/bold] {text} …")

    def _close(self) -> None:
        now = self.clock()
        # a forked worker inherits the step its parent was in: that step ends in the parent, not here
        if self.on and self.current and self.process == os.getpid():
            self.console.print(f"  [dim]{self.current}: {now - self.last:.1f} s[/dim]")
        self.last = now

    def done(self) -> None:
        self._close()
        self.current = None
        if self.on:
            self.console.print(f"[dim]total {self.clock() - self.started:.1f} s[/dim]")


def _run(args) -> int:
    from shopper_bayes.config import load_config
    from shopper_bayes.report.console import convergence_warning
    from shopper_bayes.runner import run

    config = load_config(args.config)
    progress = Progress(args.quiet)
    result, text, written = run(config, args.output, progress=progress, workers=args.workers)
    progress.done()
    if not args.quiet:
        print(text)
        print("\nWrote " + ", ".join(str(path) for path in written if path.suffix != ".csv")
              + f" and {sum(path.suffix == '.csv' for path in written)} CSV tables")
    warning = convergence_warning(result.summary)
    if warning:
        print(warning, file=sys.stderr)
        if args.strict:
            return EXIT_NOT_CONVERGED
    return 0


CAMPAIGN_FLAGS = {"segment": "--segment", "boost": "--boost", "boost_type": "--boost-type", "boost_sd": "--boost-sd",
                  "sessions": "--sessions", "target": "--target", "prob_wanted": "--prob-wanted"}


def _campaign(args) -> int:
    from pydantic import ValidationError

    from shopper_bayes.analyses.campaign.config import CampaignConfig
    from shopper_bayes.config import load_config, registry
    from shopper_bayes.inference.fit import FitCache
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import analyse

    config = load_config(args.config)
    given = {key: getattr(args, key) for key in CAMPAIGN_FLAGS if getattr(args, key) is not None}
    try:
        campaign = CampaignConfig.model_validate(config.campaign.model_dump() | given)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else next(iter(given), "campaign")
        where = CAMPAIGN_FLAGS.get(key, f"{args.config}: campaign")
        raise UserError(where, error["msg"].removeprefix("Value error, "), "give a valid value") from None
    config = config.model_copy(update={"campaign": campaign})
    datasets, analyses = registry(config)
    only = next(a for a in analyses if a.key == "campaign")
    others = {a.config_name: getattr(config, a.config_name).model_copy(update={"enabled": False})
              for a in analyses if a is not only}
    config = config.model_copy(update=others | {"campaign": campaign.model_copy(update={"enabled": True})})
    Staging(args.output).discard()
    fits = FitCache(config.sampler, config.seed, saved=Path(args.output) / "models")
    result = analyse(config, fits=fits)
    source = "; ".join(dict.fromkeys(fits.sources.values())) or "no fit needed"
    answer = result.summary["campaign"] | {"posterior": source, "data": result.summary["data"]}
    with Staging(args.output) as staging:
        staging.write_json("reports/campaign.json", answer)
        written = staging.commit()
    print("\n".join(only.console(result.outputs["campaign"].summary)))
    print(f"\nPosterior: {source}. Wrote " + ", ".join(str(p) for p in written))
    if not answer["diagnostics"]["ok"]:
        print("WARNING: the posterior used did not pass its convergence checks: " + "; ".join(answer["diagnostics"]["problems"]),
              file=sys.stderr)
    return 0


def _report(args) -> int:
    from shopper_bayes.outputs import Staging
    from shopper_bayes.report.render import write_report

    path = args.output / "reports" / "summary.json"
    if not path.is_file():
        raise UserError(path, "not found", "run `shopper-bayes run` first, or point --output at the folder it wrote")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        figures_on = summary["config"]["figures"]
        version = summary.get("schema_version", 1)
    except (ValueError, KeyError, TypeError):
        raise UserError(path, "is not a summary written by shopper-bayes run", "run `shopper-bayes run` again") from None
    if version != 2:
        raise UserError(path, f"has summary schema version {version}, this shopper-bayes reads version 2",
                        "run `shopper-bayes run` again to rewrite it (see CHANGELOG.md)")
    with Staging(args.output) as staging:
        write_report(summary, args.output if figures_on else None, staging)
        written = staging.commit()
    print("Wrote " + ", ".join(str(p) for p in written if p.suffix != ".csv"))
    return 0


def _generate(args) -> int:
    from shopper_bayes.generate import KINDS, write

    unit = KINDS[args.kind]
    given = next(name for name in dict.fromkeys(KINDS.values()) if getattr(args, f"n_{name}") is not None)
    if given != unit:
        raise UserError(f"--{given}", f"{args.kind} are counted in {unit}", f"use --{unit} N")
    if args.dropout is not None and args.kind != "transactions":
        raise UserError("--dropout", f"is for transactions, not {args.kind}", "leave it out")
    options = {"dropout": args.dropout} if args.dropout else {}
    written = write(args.kind, getattr(args, f"n_{unit}"), args.seed, args.out, **options)
    print(f"Wrote {written.rows:,} rows of {args.kind} to {written.path} and the ground truth to {written.truth_path}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's time limit): ends the run like Ctrl-C, so its temporary files (the engine's
    database, gigabytes at 100 million rows) are deleted on the way out instead of left behind."""


_SIGNALLED: list[int] = []  # the stopping signals this process received (see _stopped)


def _terminate(signum, frame):
    _SIGNALLED.append(signum)
    raise Terminated()


def _interrupt(signum, frame):
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    import threading

    args = _parser().parse_args(argv)
    if not args.debug:
        warnings.filterwarnings("ignore")
    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        return _main(args)
    from shopper_bayes.stopping import resend_swallowed_stops

    _SIGNALLED.clear()
    previous = {number: signal.signal(number, handler)
                for number, handler in ((signal.SIGTERM, _terminate), (signal.SIGINT, _interrupt))}
    end_resending = resend_swallowed_stops(_SIGNALLED)  # a stop raised inside a finalizer was lost
    try:
        return _main(args)
    finally:
        end_resending()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stopped(terminated: bool) -> int:
    print(f"error: {'terminated' if terminated else 'interrupted'}; previous outputs are unchanged", file=sys.stderr)
    return 143 if terminated else 130


def _main(args) -> int:
    try:
        return {"run": _run, "campaign": _campaign, "report": _report, "generate": _generate}[args.command](args)
    except Exception as exc:
        if _SIGNALLED:  # Ctrl-C or SIGTERM during a DuckDB query: it raises RuntimeError('Query interrupted') instead
            return _stopped(_SIGNALLED[0] == signal.SIGTERM)
        if args.debug:
            raise
        if isinstance(exc, UserError):
            print(exc.line(), file=sys.stderr)
            return EXIT_USER_ERROR
        # a bug, not bad input: still one line, the traceback with --debug
        # Outputs are moved into place only after everything was computed and rendered, so an internal
        # error before that point has written nothing; the one inside the final rename is a UserError.
        print(one_line(f"error: internal error ({type(exc).__name__}: {exc}); nothing was written, previous outputs "
                       "are unchanged - rerun with --debug and report the traceback"), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        return _stopped(isinstance(exc, Terminated))


if __name__ == "__main__":
    sys.exit(main())
