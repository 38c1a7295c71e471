"""Configuration: the schema of ``config.yaml``, validated with pydantic.

Every option has a default, so an empty file is a valid config. An unknown key or a value of the
wrong type is a :class:`UserError` that names the key. Relative paths are taken relative to the
directory of the config file, so a config works from any current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from shopper_bayes.engine.base import EngineName, SparkConfig
from shopper_bayes.engine.source import is_table
from shopper_bayes.errors import UserError

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SamplerConfig(_Strict):
    """MCMC settings. ``backend`` is the NUTS implementation: nutpie (default) or PyMC's own."""

    backend: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=0)
    chains: int = Field(4, ge=2)  # R-hat and rank plots compare chains: one chain cannot show non-convergence
    target_accept: float = Field(0.99, gt=0, lt=1)  # 0.99: the hierarchical model has no divergences on the bundled data


class DiagnosticsConfig(_Strict):
    """Thresholds a fit must meet to be called converged."""

    max_rhat: float = Field(1.01, gt=1)
    min_ess: float = Field(400, gt=0)
    max_divergences: int = Field(0, ge=0)
    min_bfmi: float = Field(0.3, gt=0)  # energy Bayesian fraction of missing information, per chain
    max_mcse_ratio: float = Field(0.1, gt=0)  # Monte Carlo standard error of the mean / posterior sd


class Core(_Strict):
    """The options every run has; each dataset and analysis adds its own section (see :func:`config_model`)."""

    seed: int = Field(2026, ge=0)
    figures: bool = True
    report: bool = True
    sampler: SamplerConfig = SamplerConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    engine: EngineName = "duckdb"  # where rows are read, cleaned and aggregated: duckdb (embedded) or spark
    spark: SparkConfig = SparkConfig()


_REGISTRIES: dict[type, tuple] = {}


def config_model(datasets: tuple | None = None, analyses: tuple | None = None) -> type[Core]:
    """The schema of ``config.yaml``: the core options, one optional section per dataset (absent: not
    configured, unless the dataset has a default) and one section per analysis (every key defaulted)."""
    if datasets is None or analyses is None:
        from shopper_bayes.analyses.registry import default_analyses
        from shopper_bayes.datasets.registry import default_datasets

        datasets = tuple(default_datasets()) if datasets is None else datasets
        analyses = tuple(default_analyses()) if analyses is None else analyses
    key = (tuple(datasets), tuple(analyses))
    for model, registry in _REGISTRIES.items():
        if registry == key:
            return model
    fields = {dataset.name: (dataset.settings | None, dataset.default) for dataset in datasets}
    fields |= {analysis.config_name: (analysis.settings, Field(default_factory=analysis.settings)) for analysis in analyses}
    model = create_model("Config", __base__=Core, **fields)
    _REGISTRIES[model] = key
    return model


def registry(config: Core) -> tuple[tuple, tuple]:
    """The datasets and analyses ``config`` was validated for."""
    return _REGISTRIES[type(config)]


def resolve_paths(config: Core, base: Path) -> Core:
    """A copy whose relative dataset paths are taken relative to ``base`` (the config file's folder)."""
    datasets, _ = registry(config)
    update = {}
    for dataset in datasets:
        section = getattr(config, dataset.name)
        path = getattr(section, "path", None)
        if isinstance(path, Path) and not path.is_absolute() and not is_table(path):
            update[dataset.name] = section.model_copy(update={"path": base / path})
    resolved = config.model_copy(update=update)
    object.__setattr__(resolved, "__pydantic_fields_set__", set(config.model_fields_set))  # what the file gave
    return resolved


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` that also refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_unique_mapping(self, node: yaml.MappingNode):
        keys = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in keys:
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        f"key {key!r} appears twice", key_node.start_mark)
            keys.append(key)
        yield from self.construct_yaml_map(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_unique_mapping)


def _describe(error: dict) -> tuple[str, str]:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return key, "unknown key"
    return key, error["msg"].removeprefix("Value error, ")


def load_config(path: str | Path, datasets: tuple | None = None, analyses: tuple | None = None) -> Core:
    """Read, validate and resolve a YAML config file (loaded with a ``yaml.SafeLoader``: no tags run code)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "config file not found", "pass an existing file with --config")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except UnicodeDecodeError:
        raise UserError(path, "is not UTF-8 text", "save the config as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(where, f"invalid YAML ({problem})", "fix the YAML syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(path, "must be a mapping of option: value", "see config.yaml in the README")
    try:
        config = config_model(datasets, analyses).model_validate(raw)
    except ValidationError as exc:
        key, what = _describe(exc.errors()[0])
        raise UserError(f"{path}: {key}", what, "fix this option (see the README's config reference)") from None
    return resolve_paths(config, path.resolve().parent)
