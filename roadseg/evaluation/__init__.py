"""Evaluating road extraction: pixel metrics of masks (:mod:`.pixel`) and graph metrics
of networks (:mod:`.apls`). Submodules are imported where used, to keep start-up light.
"""
