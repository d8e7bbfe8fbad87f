"""``stressgen compare`` against two live targets: the same configuration run against
both in alternating rounds (A B, B A, A B, ...) so that machine noise hits both alike, then
the combined results compared (:func:`stressgen.compare.compare`).
"""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Sequence
from typing import TextIO

from stressgen import runner
from stressgen.ceiling_step import UNWRITTEN
from stressgen.compare import Comparison, Tolerances, compare, format_value
from stressgen.compare_summary import Summary, summarize
from stressgen.config import RunConfig
from stressgen.engine.report import redact_url
from stressgen.errors import ConfigError, ExitCode


def compare_urls(
    config: RunConfig,
    base_url: str,
    candidate_url: str,
    *,
    rounds: int,
    tolerances: Tolerances,
    out: TextIO | None = None,
) -> Comparison | None:
    """Run ``config`` against both URLs in ``rounds`` alternating rounds (odd rounds base
    first, even rounds candidate first), print a line per run, and compare the combined
    results; None when interrupted."""
    if rounds < 1:
        raise ConfigError("--rounds", rounds, "a whole number of at least 1")
    out = out or sys.stdout
    urls = {"base": base_url, "candidate": candidate_url}
    results: dict[str, list[Summary]] = {"base": [], "candidate": []}
    for index in range(rounds):
        order = ("base", "candidate") if index % 2 == 0 else ("candidate", "base")
        for side in order:
            run_config = dataclasses.replace(config, url=urls[side], **UNWRITTEN)
            outcome = runner.run(run_config, out=io.StringIO())
            if outcome.exit_code == ExitCode.INTERRUPTED:
                return None
            summary = summarize(outcome.report)
            results[side].append(summary)
            p99 = summary.histograms["from_due"].percentiles((99.0,))["p99"]
            print(
                f"round {index + 1}/{rounds} {side:<9} achieved {summary.achieved_rate:>9,.1f}/s"
                f"  success {summary.success_rate:>7.2%}  p99 from due {format_value(p99, 'ms'):>8}"
                f"  ({redact_url(urls[side])})",
                file=out,
                flush=True,
            )
    combined = {side: _combine_all(s) for side, s in results.items()}
    return compare(combined["base"], combined["candidate"], tolerances)


def _combine_all(summaries: Sequence[Summary]) -> Summary:
    total = summaries[0]
    for summary in summaries[1:]:
        total = total.combine(summary)
    return total
