"""Compare the champion (the active version) with the challenger on the stored predictions with actual charges.

    python manage.py compare_models
    python manage.py compare_models --json

On every prediction with an actual charge and both versions' answers (the prediction's own charge for
the version that made it, else the challenger score from ``challenger_score``): each version's MAE,
RMSE, bias and 90% interval coverage, the paired difference of absolute errors with its 95% interval
and p value, the MAE ratio with its paired bootstrap interval, the same by segment (Holm-adjusted),
the share of each segment's predictions with an actual charge, and the verdict by the written rule.
The read is recorded in the staff access log.

Exit status: 0 for "better" or "not worse", 1 for "worse", 3 for "not enough evidence", 2 when it
cannot compare (no challenger, no champion, no actual charges, nothing scored by both); nothing changes.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor.changes import services
from predictor.ml.compare import VERDICT_LABELS
from predictor.security import access_log

EXIT_CODES = {"better": 0, "not_worse": 0, "worse": 1, "not_enough_evidence": 3}
CANNOT_COMPARE = 2


def _money(value: float | None) -> str:
    return "—" if value is None else f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def comparison_lines(figures: dict) -> list[str]:
    """The comparison as text, for people (``promote_challenger`` prints it too)."""
    difference, ratio, rows = figures["difference"], figures["mae_ratio"], figures["rows"]
    lines = [
        f"Champion {figures['champion']['name']} against challenger {figures['challenger']['name']}: "
        f"{figures['n']:,} predictions compared of {rows['with_actual']:,} with an actual charge "
        f"(skipped: {rows['skipped_not_scored']:,} not scored yet, {rows['skipped_anonymised']:,} anonymised).",
    ]
    for role in ("champion", "challenger"):
        part = figures[role]
        coverage = part["coverage"]
        lines.append(
            f"  {role:10} {part['name']:20} MAE {_money(part['mae'])}  RMSE {_money(part['rmse'])}  bias {_money(part['bias']['mean'])}"
            + (f"  coverage {coverage['rate']:.1%} ({coverage['low']:.1%} to {coverage['high']:.1%})"
               f"  width {_money(part['mean_interval_width'])}" if coverage else "  no interval")
        )
    lines.append(
        f"  difference |y − challenger| − |y − champion|: mean {_money(difference['mean'])}, 95% CI "
        f"{_money(difference['low'])} to {_money(difference['high'])}, p = "
        + ("—" if difference["p_value"] is None else f"{difference['p_value']:.3g}")
    )
    if ratio["low"] is not None:
        lines.append(f"  MAE ratio {ratio['value']:.4f} (paired bootstrap 95% CI {ratio['low']:.4f} to {ratio['high']:.4f})")
    if figures["segments"]:
        lines.append("  by segment (Holm-adjusted):")
        for part in figures["segments"]:
            d = part["difference"]
            lines.append(
                f"    {part['dimension']:15} {part['group']:22} n {part['n']:>7,}  mean {_money(d['mean']):>11}  "
                f"[{_money(d['low'])}, {_money(d['high'])}]  p {d['p_value']:.3g}"
            )
    lines += [f"  warning: {warning}" for warning in figures["warnings"]]
    lines.append(f"Verdict: {VERDICT_LABELS[figures['verdict']]}.")
    lines += [f"  {reason}" for reason in figures["reasons"]]
    return lines


class Command(BaseCommand):
    help = ("Compare the champion with the challenger on actual charges; exit 0 better or not worse, 1 worse, "
            "3 not enough evidence, 2 cannot compare.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        try:
            comparison = services.model_comparison(command="compare_models")
        except services.ComparisonUnavailable as exc:
            raise CommandError(str(exc), returncode=CANNOT_COMPARE) from exc
        except access_log.AccessLogUnavailable as exc:
            raise CommandError(str(exc), returncode=CANNOT_COMPARE) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database is not available: {exc}", returncode=CANNOT_COMPARE) from exc
        if options["json"]:
            self.stdout.write(json.dumps(comparison.figures, indent=2))
        else:
            self.stdout.write("\n".join(comparison_lines(comparison.figures)))
        code = EXIT_CODES[comparison.verdict]
        if code:
            sys.exit(code)
