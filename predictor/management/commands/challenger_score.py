"""Score the stored predictions with the challenger (and the champion), off the request path.

    python manage.py challenger_score [--chunk-size 50000] [--no-progress]

Every stored prediction without a score from the current challenger gets one: its charge and
90% interval for the row's stored inputs, in vectorised chunks stored with COPY, each chunk all
or nothing. The current champion scores the rows another version made, so the comparison has
both answers for every row; a version never scores the rows it made itself. A second run scores
nothing new. Rows whose inputs retention anonymised are skipped and counted. Exits 1 with a
message when there is no challenger, or when another run is scoring (one at a time: a lock).
The stack runs it on a schedule beside monitor_report.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from tqdm import tqdm

from predictor.changes.scores import NoChallengerError, ScoringBusyError, challenger_score
from predictor.changes.scores import DEFAULT_CHUNK_SIZE, VersionScored
from predictor.ml.artifacts import ModelArtifactError


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows of at least 1")
    return value


class Command(BaseCommand):
    help = "Score every stored prediction the challenger (and the champion) has not scored yet."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=_positive, default=DEFAULT_CHUNK_SIZE,
                            help=f"Rows predicted and stored at once, each chunk all or nothing (default {DEFAULT_CHUNK_SIZE:,}).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args, chunk_size: int, no_progress: bool, verbosity: int = 1, **options):
        bars: dict[int, tqdm] = {}

        def progress(part: VersionScored) -> None:
            bar = bars.get(part.version.pk)
            if bar is None:
                bar = bars[part.version.pk] = tqdm(
                    total=part.to_score, desc=f"{part.version.name} ({part.role})", unit="row",
                    disable=no_progress or verbosity == 0, file=self.stderr._out,
                )
            bar.update(part.scored - bar.n)

        try:
            outcome = challenger_score(chunk_size=chunk_size, progress=progress)
        except (NoChallengerError, ScoringBusyError) as exc:
            raise CommandError(str(exc)) from exc
        except ModelArtifactError as exc:
            raise CommandError(f"{exc} Chunks stored before this stay; nothing else changed.") from exc
        except DatabaseError as exc:
            raise CommandError(f"the database refused a chunk: {exc}. Chunks stored before it stay; run again to go on.") from exc
        finally:
            for bar in bars.values():
                bar.close()
        for part in outcome.versions:
            skipped = f", {part.skipped_anonymised:,} skipped (inputs anonymised by retention)"
            self.stdout.write(
                f"{part.version.name} ({part.role}): {part.scored:,} predictions scored{skipped}"
            )
