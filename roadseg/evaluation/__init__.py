"""Evaluation of road outputs against ground truth."""

from roadseg.evaluation.apls import AplsResult, apls, evaluate_vector_files

__all__ = ["AplsResult", "apls", "evaluate_vector_files"]
