"""The bundled run (`make run`: every analysis on every bundled dataset): where its time goes, how long the
whole run, `shopper-bayes --help` and `shopper-bayes report` take, and the peers measured in the same run.

Run from the repository root: .venv/bin/python benchmarks/bench_run.py [--parts P,P,...] [--before REF]
(each whole run is a fresh `shopper-bayes run` process writing into a temporary folder).

Parts (all by default):
- steps: the run in this process, one worker, step by step: imports, each dataset load, each analysis
  and inside it compiling (nutpie and its callbacks), sampling and the predictive/log-likelihood draws,
  figures, the report; each step's seconds and share of the whole.
- cli: `--help` (target < 1 s) and `report` on the run's outputs (target < 2 s), best of 5, against the
  peer `python -c pass` (the interpreter's own start).
- warm: the whole run with `--workers 2` (the default; target <= 45 s on 2 cores) after a run that filled
  the caches, and the peer `--workers 1`, back to back.
- cold: the whole run after emptying every cache the run uses (this project's callbacks, PyTensor's
  compile folder, numba's cache of the project's own kernels, matplotlib's font cache: all pointed at
  new empty folders; target <= 90 s), then the same run again warm, back to back; and the run with only
  the callback cache emptied (the lever of this issue: what the disk cache of nutpie's callbacks saves).
- before (with --before REF): the warm whole run of the git revision REF (its `src/` exported with
  git archive) against this tree's, back to back, after one untimed run of each to warm them.
The one-minute load average is printed before and after each part: the machine may be shared.
No assertions: the figures are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this tree's code, whatever the environment has installed
PYTHON = sys.executable
PARTS = ("steps", "cli", "warm", "cold", "before")


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def environment(src: Path = ROOT / "src", **extra) -> dict:
    return os.environ | {"PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"} | extra


def timed(args: list[str], env: dict, check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def whole_run(output: Path, workers: int, env: dict) -> float:
    return timed([PYTHON, "-m", "shopper_bayes.cli", "run", "--config", "config.yaml", "--output", str(output),
                  "--workers", str(workers), "--quiet"], env)


def best(args: list[str], env: dict, times: int = 5) -> float:
    return min(timed(args, env) for _ in range(times))


def steps() -> None:
    """The run in this process, one worker, every step timed."""
    clock = time.perf_counter
    started = clock()
    from shopper_bayes import runner
    from shopper_bayes.config import load_config
    imports = clock() - started
    import nutpie
    import pymc  # noqa: F401  (the run imports them with its first model: timed apart here)
    model_imports = clock() - started - imports
    spent: dict[str, float] = collections.defaultdict(float)
    order: list[str] = []

    def add(name: str, seconds: float) -> None:
        if name not in spent:
            order.append(name)
        spent[name] += seconds

    current = {"analysis": "?"}

    def wrap(owner, attribute: str, label) -> None:
        plain = getattr(owner, attribute)

        @functools.wraps(plain)
        def measured(*args, **kwargs):
            began = clock()
            try:
                return plain(*args, **kwargs)
            finally:
                add(label() if callable(label) else label, clock() - began)
        setattr(owner, attribute, measured)

    from shopper_bayes.inference import compiled, fit
    from shopper_bayes.report import render

    wrap(compiled.Compiled, "get", lambda: f"  {current['analysis']}: compile")
    wrap(nutpie, "sample", lambda: f"  {current['analysis']}: sample (NUTS)")
    wrap(fit, "_predictive", lambda: f"  {current['analysis']}: log-likelihood and predictive draws")
    wrap(runner, "figure_png", "figures")
    wrap(render, "write_report", "report (HTML, Markdown)")
    plain_init = runner.Loader.__init__

    def loader_init(self, config, datasets):
        plain_init(self, config, datasets)
        self.datasets = {}
        for name, dataset in datasets.items():
            def loading(settings, needs, _plain=dataset.load, _name=name, **options):
                began = clock()
                try:
                    return _plain(settings, needs, **options)
                finally:
                    add(f"load {_name}", clock() - began)
            self.datasets[name] = type(dataset)(dataset.name, dataset.title, dataset.settings, loading, dataset.default)
    runner.Loader.__init__ = loader_init

    def progress(text: str) -> None:
        if not text[:1].islower():  # an analysis's title starts a step; its own sub-steps are lower case
            current["analysis"] = text
    config = load_config(ROOT / "config.yaml")
    with tempfile.TemporaryDirectory() as folder:
        result, _, _ = runner.run(config, folder, progress=progress, workers=1)
    total = clock() - started
    titles = {analysis.key: analysis.title for analysis in runner.registry(config)[1]}
    print(f"\n== steps: the bundled run in one process, one worker ({load()})")
    print(f"{'step':<62} {'seconds':>8} {'share':>6}")
    print(f"{'imports (CLI, runner, config)':<62} {imports:8.1f} {imports / total:6.1%}")
    print(f"{'imports (PyMC, nutpie, numba)':<62} {model_imports:8.1f} {model_imports / total:6.1%}")
    for key, seconds in result.timings.items():
        title = titles[key]
        inside = [name for name in order if name.startswith(f"  {title}:")]
        print(f"{title + ' (whole analysis, loading included)':<62} {seconds:8.1f} {seconds / total:6.1%}")
        for name in inside:
            print(f"{name:<62} {spent[name]:8.1f} {spent[name] / total:6.1%}")
    for name in order:
        if not name.startswith("  "):
            print(f"{name:<62} {spent[name]:8.1f} {spent[name] / total:6.1%}")
    print(f"{'whole run':<62} {total:8.1f} {1:6.1%}")


def cli(output: Path) -> None:
    env = environment()
    print(f"\n== cli ({load()})")
    whole_run(output, 2, env)
    interpreter = best([PYTHON, "-c", "pass"], env)
    helping = best([PYTHON, "-m", "shopper_bayes.cli", "--help"], env)
    report = best([PYTHON, "-m", "shopper_bayes.cli", "report", "--output", str(output)], env)
    print(f"python -c pass (peer)          {interpreter:6.2f} s")
    print(f"shopper-bayes --help           {helping:6.2f} s  "
          f"({helping / interpreter:.1f}x the interpreter's start; target < 1 s)")
    print(f"shopper-bayes report           {report:6.2f} s  ({report / interpreter:.1f}x; target < 2 s)")
    print(f"({load()})")


def warm(output: Path) -> None:
    env = environment()
    print(f"\n== warm whole run ({load()})")
    whole_run(output, 2, env)  # fills the caches
    two = whole_run(output, 2, env)
    one = whole_run(output, 1, env)
    print(f"--workers 2 (default)          {two:6.1f} s  (target <= 45 s)")
    print(f"--workers 1 (peer)             {one:6.1f} s  (ratio 1 / 2 workers: {one / two:.2f})")
    print(f"({load()})")


def cold(output: Path) -> None:
    print(f"\n== cold whole run ({load()})")
    with tempfile.TemporaryDirectory() as empty:
        caches = {name: str(Path(empty) / name) for name in ("callbacks", "pytensor", "numba", "matplotlib")}
        env = environment(SHOPPER_BAYES_CACHE_DIR=caches["callbacks"], NUMBA_CACHE_DIR=caches["numba"],
                          MPLCONFIGDIR=caches["matplotlib"],
                          PYTENSOR_FLAGS=f"base_compiledir={caches['pytensor']}")
        first = whole_run(output, 2, env)
        again = whole_run(output, 2, env)
        shutil.rmtree(caches["callbacks"])
        callbacks = whole_run(output, 2, env)
    print(f"every cache empty              {first:6.1f} s  (target <= 90 s)")
    print(f"the same run again, warm       {again:6.1f} s  (cold / warm: {first / again:.2f})")
    print(f"only the callback cache empty  {callbacks:6.1f} s  (/ warm: {callbacks / again:.2f})")
    print(f"({load()})")


def before(output: Path, ref: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        old = environment(Path(folder) / "src")
        print(f"\n== before ({ref}) and after, warm, --workers 2, back to back ({load()})")
        whole_run(output, 2, old)
        whole_run(output, 2, environment())
        then, now = whole_run(output, 2, old), whole_run(output, 2, environment())
        print(f"{ref}: {then:6.1f} s   this tree: {now:6.1f} s   ratio before / after: {then / now:.2f}")
    print(f"({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="steps,cli,warm,cold", help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--before", help="a git revision to compare against (adds the part 'before')")
    args = parser.parse_args()
    parts = args.parts.split(",") + (["before"] if args.before else [])
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {load()}")
    with tempfile.TemporaryDirectory() as output:
        output = Path(output)
        for part in parts:
            if part == "steps":
                steps()
            elif part == "cli":
                cli(output)
            elif part == "warm":
                warm(output)
            elif part == "cold":
                cold(output)
            elif part == "before":
                before(output, args.before)
            else:
                raise SystemExit(f"unknown part {part!r}: use {', '.join(PARTS)}")


if __name__ == "__main__":
    main()
