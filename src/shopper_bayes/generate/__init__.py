"""Mock data with planted structure, one generator per dataset, each written beside its ground truth."""

from shopper_bayes.generate.base import GENERATORS, Written, generate, truth_path, uniforms

__all__ = ["GENERATORS", "Written", "generate", "truth_path", "uniforms"]
