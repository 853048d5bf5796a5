"""The table printed at the end of a batch."""

from __future__ import annotations

from roadseg.batch.driver import BatchSummary
from roadseg.batch.record import DONE, FAILED, SKIPPED
from roadseg.log import plural


def _fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_summary(summary: BatchSummary, max_error: int = 70) -> str:
    """A plain-text table: one row per scene, then the totals."""
    header = ("scene", "status", "tries", "seconds", "roads", "length km", "error")
    rows = []
    for e in summary.entries:
        error = (e.error or "").replace("\n", " ")
        if len(error) > max_error:
            error = error[: max_error - 1] + "…"
        rows.append(
            (
                e.scene,
                e.status,
                str(e.attempt) if e.attempt else "-",
                _fmt(e.duration_s, ".1f") if e.status == DONE else "-",
                _fmt(e.n_roads, "d"),
                _fmt(None if e.total_length_m is None else e.total_length_m / 1000, ".2f"),
                error,
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    numeric = {2, 3, 4, 5}

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(header), rule, *(line(r) for r in rows), rule]
    lines.append(
        f"{plural(len(summary.entries), 'scene')}: {summary.count(DONE)} done, "
        f"{summary.count(SKIPPED)} skipped, {summary.count(FAILED)} failed "
        f"in {summary.seconds:.1f} s; record: {summary.record_path}"
    )
    return "\n".join(lines)
