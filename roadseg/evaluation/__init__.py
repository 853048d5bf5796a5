"""Evaluating road extraction: pixel metrics of masks and graph metrics of networks."""
