"""Print the fairness figures by group over the recorded actual charges (live), as on the monitoring page.

    python manage.py fairness_report
    python manage.py fairness_report --model huber-blend-v2 --since 2026-01-01 --until 2026-03-31 --json

For the predictions made from ``--since`` to ``--until`` (inclusive days, UTC; default: all) by
``--model`` (default: every version) that have actual charges: by sex, age band, region, smoker and
sex × smoker, the n, MAE, bias (actual − predicted), calibration ratio (Σ predicted / Σ actual) and
90% interval coverage, each with a 95% stratified bootstrap interval, and each dimension's largest
gaps. ``--json`` prints one JSON object (keys ``model``, ``rows``, ``groups``, ``gaps``, ``bootstrap``,
``note``). Reading stored health data, it writes an entry in the staff access log.
It exits 2 with a message for an unknown model, a backwards or empty period, or no database.
"""

import argparse
import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor.monitoring.fairness import FairnessUnavailable, fairness_live, model_version_named
from predictor.security import access_log


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; write it like 2026-01-31.") from None


def _figure(figure: dict, money: bool) -> str:
    def text(value):
        if value is None:
            return "—"
        return f"{'-' if value < 0 else ''}${abs(value):,.0f}" if money else f"{value:.3f}"

    interval = f" ({text(figure['low'])} to {text(figure['high'])})" if figure["low"] is not None else ""
    return text(figure["value"]) + interval


class Command(BaseCommand):
    help = "Print the fairness figures by group (MAE, bias, calibration, coverage with 95% intervals) over recorded actual charges."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Only this model version's predictions (default: every version).")
        parser.add_argument("--since", type=_date, help="First day of the predictions (YYYY-MM-DD, UTC).")
        parser.add_argument("--until", type=_date, help="Last day of the predictions, included (YYYY-MM-DD, UTC).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, model: str | None, since: date | None, until: date | None, **options):
        try:
            report = fairness_live(model_version=model_version_named(model), since=since, until=until)
            access_log.access_log_record(
                command="fairness_report", action=access_log.Action.FAIRNESS, row_count=report["rows"]["count"],
                filters={"model": model, "since": since, "until": until},
            )
        except FairnessUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except access_log.AccessLogUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database is not available: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        lines = [f"{report['model'] or 'every model version'}: {report['rows']['count']:,} recorded actual charges", ""]
        lines.append(f"{'':28}{'n':>7}  {'MAE (95% CI)':28}{'bias (95% CI)':30}{'calibration':26}coverage")
        for row in report["groups"]:
            lines.append(
                f"{row['dimension'] + ': ' + row['group']:28}{row['n']:>7,}  {_figure(row['mae'], True):28}"
                f"{_figure(row['bias'], True):30}{_figure(row['calibration'], False):26}{_figure(row['coverage'], False)}"
            )
        lines += ["", "largest gaps (highest group minus lowest, 95% CI):"]
        for gap in report["gaps"]:
            lines.append(f"  {gap['dimension']:11}{gap['metric']:12}{gap['highest']} − {gap['lowest']}: "
                         f"{_figure(gap, gap['metric'] in ('mae', 'bias'))}")
        lines += ["", report["note"]]
        self.stdout.write("\n".join(lines))
