"""CLV: speed and memory of this project's fit and predictions against named peers, each in one run.

Run from the repository root:

    .venv/bin/python benchmarks/bench_clv.py [--data PATH] [--draws N]     # against PyMC-Marketing
    .venv/bin/python benchmarks/bench_clv.py --before main                 # against the code of a git ref
    .venv/bin/python benchmarks/bench_clv.py --scale [--customers 10000 1000000] [--statistics exact binned]
        [--peer-max 100000] [--cap-gib 6]                                   # whole analysis at scale

Every measurement runs in a fresh child process (so peak resident memory is its own) and reports
wall time, CPU time of the process (all threads: on a shared machine the steadier figure) and peak
resident memory. Total: RFM table + fit + predictions (reading the file excluded), and for
``--scale``'s project side the whole analysis (loading included). Same sampler settings on every
side: nutpie, 4 chains, ``--draws`` draws and tuning steps. Printed: each side's figures, then the
ratios. No assertions.

- Default, against PyMC-Marketing, on the bundled CDNOW master log (23,570 customers; calibration to
  1997-09-30, weeks) or ``--data`` (a log with columns customer, date, amount; CSV or Parquet).
  Project: ``analyses.clv.compute`` (BG/NBD + Gamma-Gamma on weighted distinct triples and pairs;
  per-customer P(alive), purchases, spend and 12-month CLV at 1% a month, in chunks).
  PyMC-Marketing: ``BetaGeoModel.fit`` and ``GammaGammaModel.fit`` on one row per customer, then
  ``GammaGammaModel.expected_customer_lifetime_value`` over every draw and customer.
- ``--before REF``: the same project side with the code of git ref REF (``git archive`` into a
  temporary folder, imported by its child) and with this tree's, on the same data.
- ``--scale``: the whole ``clv`` analysis through the runner (the transactions dataset loaded and
  cleaned in DuckDB, RFM tables from the engine, fit, predictions, holdout check, figures, report,
  ``customers_clv.parquet``; the other analyses switched off) on generated logs (``generate
  transactions``, seed 1) of each of ``--customers`` customers, calibration to 2024-12-31 (366 of the
  540 days), weeks, ``clv.statistics`` from ``--statistics``, the analysis's other defaults (200
  prediction draws). Fit = the whole fit call (posterior mode, compiling, sampling, log-likelihood and
  prior draws). Peer, for each size up to ``--peer-max``: PyMC-Marketing on the same log,
  ``rfm_summary``, ``BetaGeoModel.fit`` and ``GammaGammaModel.fit`` (same sampler settings), then
  its own ``thin_fit_result`` down to the same 200 draws and ``expected_customer_lifetime_value``.
  Ratios: each size against the smallest (same statistics), and peer / project at each size.

Memory is the child's peak resident size, ``VmHWM`` in /proc/self/status (not ``ru_maxrss``, which on
Linux carries a large parent's peak over fork and exec). The parent polls each child's resident size
and ends a child that passes ``--cap-gib`` (the machine is shared): that side is then reported as
stopped, with the step it had reached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow_transactions.txt"
CALIBRATION_END = {"cdnow": "1997-09-30", "generated": "2024-12-31"}


def read(path: Path):
    import pandas as pd

    if path == CDNOW:
        raw = pd.read_csv(path, sep=r"\s+", dtype=str)
        return pd.DataFrame({"customer": raw["customer_id"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                             "amount": raw["dollar_value"].astype(float)})
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    frame = frame.rename(columns={"customer_id": "customer"})[["customer", "date", "amount"]]
    return frame.assign(date=pd.to_datetime(frame["date"]))


def peak_resident_mib() -> float:
    """This process's peak resident size (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def resident_mib(pid: int) -> float:
    """The current resident size of process ``pid`` (VmRSS), in MiB; 0 once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def mark(step: str) -> None:
    """Tell the parent (on stderr) which step this child has reached, with its peak so far."""
    print(f"step {step} {time.perf_counter():.3f} {peak_resident_mib():.0f}", file=sys.stderr, flush=True)


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def project(path: Path, draws: int, calibration_end: str, statistics: str = "exact") -> dict:
    from shopper_bayes.analyses.clv.compute import compute
    from shopper_bayes.analyses.clv.config import ClvSettings
    from shopper_bayes.analyses.clv.rfm import rfm_tables
    from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
    from shopper_bayes.inference.fit import sample

    frame = read(path)
    wall, cpu = clock()
    tables = rfm_tables(frame, calibration_end, None, "week")
    summarised = time.perf_counter()
    timing = {}

    def fit(model, key, **kw):
        wall, cpu = clock()
        built = model() if callable(model) else model  # main before the whitened fit passed the model itself
        tree = sample(built, SamplerConfig(**kw), 1)
        timing["fit"], timing["fit_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
        return tree

    settings = {"draws": draws, "tune": draws, "prediction_draws": 4 * draws}
    if statistics != "exact":
        settings["statistics"] = statistics
    done = compute(tables, ClvSettings(**settings), fit, DiagnosticsConfig(), 1)
    total, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = done.result
    return {"rfm": summarised - wall, "fit": timing["fit"], "fit_cpu": timing["fit_cpu"],
            "predict": total - (summarised - wall) - timing["fit"], "total": total,
            "total_cpu": total_cpu, "total_clv": result.total_clv.mean, "customers": result.customers,
            "triples": result.triples, "spend_groups": getattr(result, "spend_groups", None), "ok": result.diagnostics.ok,
            "min_ess": result.diagnostics.min_ess_bulk,
            "params": {name: value.mean for name, value in result.params if value is not None}}


def pymc_marketing(path: Path, draws: int, calibration_end: str, prediction_draws: int | None = None) -> dict:
    """PyMC-Marketing's own steps; ``prediction_draws``: thin both fits to this many draws first
    (``thin_fit_result``, its advice for memory), else CLV over every draw."""
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary

    frame = read(path)
    mark("read")
    wall, cpu = clock()
    summary = rfm_summary(frame, "customer", "date", "amount", observation_period_end=calibration_end,
                          time_unit="D", time_scaler=7)
    del frame
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    summarised, summarised_cpu = clock()
    mark("rfm_summary")
    # sampler settings as keywords: PyMC-Marketing 1.3's ``sample_kwargs`` only reaches the variational methods
    settings = {"method": "mcmc", "random_seed": 1, "progressbar": False, "draws": draws, "tune": draws, "chains": 4,
                "nuts_sampler": "nutpie"}
    bg = BetaGeoModel()
    bg.fit(summary, **settings)
    mark("BetaGeoModel.fit")
    gg = GammaGammaModel()
    gg.fit(spenders, **settings)
    fitted, fitted_cpu = clock()
    mark("GammaGammaModel.fit")
    sampled = dict(bg.idata["posterior"].sizes)
    if prediction_draws is not None:
        keep = max(1, 4 * draws // prediction_draws)
        bg, gg = bg.thin_fit_result(keep), gg.thin_fit_result(keep)
    clv = gg.expected_customer_lifetime_value(transaction_model=bg, data=summary, future_t=12, discount_rate=0.01,
                                              time_unit="W")
    total_clv = float(clv.sum("customer_id").mean())
    done, done_cpu = clock()
    mark("expected_customer_lifetime_value")
    return {"rfm": summarised - wall, "fit": fitted - summarised, "fit_cpu": fitted_cpu - summarised_cpu,
            "predict": done - fitted,
            "total": done - wall, "total_cpu": done_cpu - cpu, "total_clv": total_clv, "customers": len(summary),
            "chains_draws": [int(sampled["chain"]), int(sampled["draw"])],
            "prediction_draws": int(clv.sizes["chain"] * clv.sizes["draw"])}


CONFIG = """seed: 2026
figures: true
report: true
sessions: null
transactions:
  path: {path}
  columns: {{customer: customer_id, date: date, amount: amount, quantity: null, category: category}}
  calibration_end: {calibration_end}
  time_unit: week
clv: {{statistics: {statistics}, draws: {draws}, tune: {draws}}}
customers_frequency_segments: {{enabled: false}}
customers_categories: {{enabled: false}}
customers_monthly: {{enabled: false}}
customers_churn: {{enabled: false}}
customers_pareto: {{enabled: false}}
"""


def analysis(path: Path, draws: int, calibration_end: str, statistics: str) -> dict:
    """The whole ``clv`` analysis through the runner, outputs written to a temporary folder."""
    from shopper_bayes.config import load_config
    from shopper_bayes.inference.fit import FitCache
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import analyse, render

    marks: dict[str, tuple[float, float]] = {}

    def step(name: str) -> None:
        mark(name)
        marks[name] = (time.perf_counter(), peak_resident_mib())

    timing = {}

    class TimedFits(FitCache):
        def fit(self, *args, **kwargs):
            step("fit start")
            wall, cpu = clock()
            tree = super().fit(*args, **kwargs)
            timing["fit"], timing["fit_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
            step("fit end")
            return tree

    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "config.yaml"
        config_path.write_text(CONFIG.format(path=path, calibration_end=calibration_end, statistics=statistics,
                                             draws=draws))
        config = load_config(config_path)
        wall, cpu = clock()
        step("start")
        run = analyse(config, fits=TimedFits(config.sampler, config.seed), progress=step)
        step("analysed")
        with Staging(Path(folder) / "out") as staging:
            render(run, config, staging)
            staging.commit()
        step("outputs written")
        total, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    clv = run.summary["clv"]
    times = {name: at for name, (at, _) in marks.items()}
    loading = "per-customer recency, frequency and spend"
    fitting = next(name for name in marks if name.startswith("fitting"))
    phases = {"load": times[loading] - times["start"], "rfm": times[fitting] - times[loading],
              "model": times["fit start"] - times[fitting], "fit": times["fit end"] - times["fit start"],
              "predictions": times["analysed"] - times["fit end"],
              "outputs": times["outputs written"] - times["analysed"]}
    peaks = {"after load": marks[loading][1], "after rfm": marks[fitting][1], "after fit": marks["fit end"][1],
             "after predictions": marks["analysed"][1]}
    return {"fit": timing["fit"], "fit_cpu": timing["fit_cpu"], "predict": phases["predictions"], "total": total,
            "total_cpu": total_cpu, "phases": {k: round(v, 1) for k, v in phases.items()},
            "peaks_mib": {k: round(v) for k, v in peaks.items()}, "customers": clv["customers"],
            "triples": clv["triples"], "spend_groups": clv["spend_groups"], "draws": clv["draws"],
            "ok": clv["diagnostics"]["ok"], "total_clv": clv["total_clv"]["mean"],
            "holdout": [clv["holdout"]["predicted"], clv["holdout"]["actual"]] if clv["holdout"] else None,
            "params": {name: round(value["mean"], 4) for name, value in clv["params"].items() if value}}


def child(args) -> None:
    path = Path(args.data)
    calibration_end = CALIBRATION_END["cdnow" if path == CDNOW else "generated"] if args.data_kind is None \
        else CALIBRATION_END[args.data_kind]
    if args.child == "pymc-marketing":
        result = pymc_marketing(path, args.draws, calibration_end, args.prediction_draws)
    elif args.child == "analysis":
        result = analysis(path, args.draws, calibration_end, args.statistics[0])
    else:
        result = project(path, args.draws, calibration_end, args.statistics[0])
    result["peak_mib"] = peak_resident_mib()
    print(json.dumps(result))


def run_child(side: str, data: Path, draws: int, statistics: str = "exact", kind: str | None = None,
              pythonpath: Path | None = None, prediction_draws: int | None = None,
              cap_mib: float | None = None) -> dict:
    """One measurement in a fresh process. With ``cap_mib``, a child whose resident size passes it is
    ended, and the result says so with the step it had reached."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [sys.executable, __file__, "--child", side, "--data", str(data), "--draws", str(draws),
               "--statistics", statistics]
    if kind:
        command += ["--data-kind", kind]
    if prediction_draws:
        command += ["--prediction-draws", str(prediction_draws)]
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=ROOT, env=env)
        stopped = False
        while process.poll() is None:
            if cap_mib is not None and resident_mib(process.pid) > cap_mib:
                process.kill()
                process.wait()
                stopped = True
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    steps = [line.split() for line in stderr.splitlines() if line.startswith("step ")]
    if stopped:
        reached = " ".join(steps[-1][1:-2]) if steps else "imports"
        return {"stopped": f"passed {cap_mib / 1024:.1f} GiB resident after {elapsed:.0f} s, during the step after "
                           f"'{reached}'", "load_before": load}
    if process.returncode:
        raise SystemExit(f"{side} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1]) | {"load_before": load, "load_after": os.getloadavg()[0]}


TIMES = ("fit", "fit_cpu", "predict", "total", "total_cpu")


def show(label: str, result: dict) -> None:
    if "stopped" in result:
        print(f"{label}: stopped, {result['stopped']} (load average {result['load_before']:.1f})")
        return
    print(f"{label}: fit {result['fit']:.1f} s ({result['fit_cpu']:.1f} CPU s), predictions {result['predict']:.1f} s, "
          f"total {result['total']:.1f} s ({result['total_cpu']:.1f} CPU s), peak {result['peak_mib']:.0f} MiB; "
          + json.dumps({k: v for k, v in result.items() if k not in {*TIMES, "peak_mib"}}))


def ratios(label: str, slow: dict, fast: dict) -> None:
    if "stopped" in slow or "stopped" in fast:
        print(f"{label}: no ratio, a side was stopped")
        return
    print(f"{label}: " + ", ".join(f"{key} {slow[key] / fast[key]:.2f}x" for key in (*TIMES, "peak_mib")))


def against_pymc_marketing(data: Path, draws: int) -> None:
    ours = run_child("project", data, draws)
    show("project", ours)
    theirs = run_child("pymc-marketing", data, draws)
    show("pymc-marketing", theirs)
    ratios("pymc-marketing / project", theirs, ours)


def against_ref(ref: str, data: Path, draws: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        before = run_child("project", data, draws, pythonpath=Path(folder) / "src")
    show(ref, before)
    after = run_child("project", data, draws, pythonpath=ROOT / "src")
    show("this tree", after)
    ratios(f"{ref} / this tree", before, after)


def scale(sizes: list[int], choices: list[str], draws: int, peer_max: int, cap_gib: float) -> None:
    from shopper_bayes.analyses.clv.config import ClvSettings
    from shopper_bayes.generate.transactions import write

    prediction_draws = ClvSettings().prediction_draws
    cap = cap_gib * 1024
    print(f"load average {os.getloadavg()[0]:.2f}; {draws} draws and tuning steps, 4 chains; memory cap {cap_gib} GiB")
    ours, theirs = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for customers in sizes:
            path = Path(folder) / f"transactions_{customers}.parquet"
            rows, _ = write(customers, 1, path)
            print(f"generated {customers:,} customers, {rows:,} purchases", flush=True)
            for statistics in choices:
                ours[customers, statistics] = run_child("analysis", path, draws, statistics, kind="generated",
                                                        cap_mib=cap)
                show(f"project, {customers:,} customers, statistics {statistics}", ours[customers, statistics])
            if customers <= peer_max:
                theirs[customers] = run_child("pymc-marketing", path, draws, kind="generated",
                                              prediction_draws=prediction_draws, cap_mib=cap)
                show(f"pymc-marketing, {customers:,} customers", theirs[customers])
            print(flush=True)
    for statistics in choices:
        for customers in sizes[1:]:
            ratios(f"project {customers:,} / {sizes[0]:,} customers, statistics {statistics}",
                   ours[customers, statistics], ours[sizes[0], statistics])
        for customers, peer in theirs.items():
            ratios(f"pymc-marketing / project (statistics {statistics}), {customers:,} customers", peer,
                   ours[customers, statistics])
    print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=CDNOW)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--before", metavar="REF")
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--statistics", nargs="+", default=["binned"], choices=["exact", "binned"],
                        help="clv.statistics of the --scale runs (the CDNOW and --before runs: exact)")
    parser.add_argument("--peer-max", type=int, default=100_000,
                        help="--scale: run PyMC-Marketing up to this many customers (its fit time grows with them: "
                             "about 14 minutes at 100,000 on 2 shared cores)")
    parser.add_argument("--cap-gib", type=float, default=6.0,
                        help="--scale: end a child whose resident size passes this many GiB")
    parser.add_argument("--child", choices=["project", "analysis", "pymc-marketing"])
    parser.add_argument("--data-kind", choices=list(CALIBRATION_END))
    parser.add_argument("--prediction-draws", type=int)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.scale:
        scale(sorted(args.customers), args.statistics, args.draws, args.peer_max, args.cap_gib)
    elif args.before:
        against_ref(args.before, args.data, args.draws)
    else:
        against_pymc_marketing(args.data, args.draws)


if __name__ == "__main__":
    main()
