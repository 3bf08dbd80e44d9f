"""Generate the technical file (EU AI Act Annex IV) and the instructions for use (Art. 13(3)) from the
product's own records, or check what the provider file still lacks.

    python manage.py technical_file --format md                 # the technical file on standard output
    python manage.py technical_file --out docs-out --format html  # both documents written into docs-out/
    python manage.py technical_file --check                     # exit 1 listing the provider's missing fields

The provider file is PREDICTOR_TECHNICAL_FILE_PROVIDER (default technical_file.yaml); a malformed one is
refused with its line and key. Generating reads the accuracy on recorded actual charges, so it is written
to the staff access log first (``--check`` reads only the provider file and logs nothing).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseDriverError

from predictor.security import access_log
from predictor.technical_file import (
    FIELDS,
    FORMATS,
    ProviderFileError,
    context_build,
    document_render,
    documents_write,
    instructions_build,
    provider_read,
    technical_file_build,
)


class Command(BaseCommand):
    help = "Generate the technical file and the instructions for use (Markdown or HTML), or --check the provider file."

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, help="Write both documents into this folder (made if needed).")
        parser.add_argument("--format", choices=FORMATS, default="md", help="md (default) or html.")
        parser.add_argument("--check", action="store_true",
                            help="Only check the provider file: list each missing field and exit 1 while any is missing.")

    def handle(self, *args, out: Path | None, format: str, check: bool, verbosity: int, **options):
        try:
            provider = provider_read()
        except ProviderFileError as exc:
            raise CommandError(f"The provider file is refused: {exc}") from exc
        if check:
            return self._check(provider, verbosity)
        try:
            context = context_build(provider=provider)
            actuals = context.report.overall.accuracy.n if context.report is not None and context.report.overall else 0
            access_log.access_log_record(
                command="technical_file", action=access_log.Action.TECHNICAL_FILE, row_count=actuals,
                filters={"format": format, "out": str(out) if out else "-"},
            )
        except access_log.AccessLogUnavailable as exc:
            raise CommandError(f"{exc} Nothing was written.") from exc
        except DatabaseDriverError as exc:
            raise CommandError(f"The database did not answer: {exc} Nothing was written.") from exc
        documents = [technical_file_build(context), instructions_build(context)]
        if out is None:
            self.stdout.write(document_render(documents[0], format), ending="")
        else:
            try:
                written = documents_write(documents, folder=out, fmt=format)
            except OSError as exc:
                raise CommandError(f"{out} could not be written: {exc}") from exc
            if verbosity >= 1:
                for path in written:
                    self.stderr.write(self.style.SUCCESS(f"Wrote {path}"))
        missing = sum(len(document.missing) for document in documents)
        if missing and verbosity >= 1:
            self.stderr.write(self.style.WARNING(
                f"{missing} parts are marked MISSING; `manage.py technical_file --check` lists the provider's."
            ))

    def _check(self, provider, verbosity: int) -> None:
        missing = provider.missing
        if not missing:
            if verbosity >= 1:
                self.stdout.write(self.style.SUCCESS(f"The provider file {provider.path} has every field the documents need."))
            return
        where = f"{provider.path}" + ("" if provider.exists else " (there is no such file)")
        self.stdout.write(f"The provider file {where} lacks {len(missing)} field{'s' if len(missing) != 1 else ''}:")
        for key in missing:
            means = FIELDS[key].means
            self.stdout.write(f"  {key}: {means}")
        raise SystemExit(1)
