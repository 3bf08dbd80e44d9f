"""The two documents, built from one ``Context`` and rendered by templates: the technical file (Annex IV's
nine sections) and the instructions for use (Art. 13(3)); Markdown or HTML."""

from __future__ import annotations

from pathlib import Path

from django.template.loader import render_to_string

from .context import Context
from .development import section_2
from .figures import Document, Facts, Items, Point, Section, Text
from .functioning import accuracy_by_group, declared_accuracy, input_specification, limitations, oversight, record_keeping, section_3, section_4
from .general import PURPOSE, provider_facts, section_1
from .lifecycle import schedule, section_5, section_6, section_7, section_8, section_9
from .sources import template_figure

FORMATS = ("md", "html")
TITLES = {
    "technical-file": "Technical documentation (EU AI Act, Art. 11 and Annex IV)",
    "instructions-for-use": "Instructions for use (EU AI Act, Art. 13(3))",
}


def _document(context: Context, slug: str) -> Document:
    return Document(
        slug=slug, title=TITLES[slug], generated_at=context.generated_at.isoformat(timespec="seconds"),
        model=context.champion.name if context.champion else None, provider_path=str(context.provider.path),
    )


def technical_file_build(context: Context) -> Document:
    """The technical file: Annex IV's nine sections, numbered as in the Regulation."""
    document = _document(context, "technical-file")
    document.sections = [
        section_1(context), section_2(context), section_3(context), section_4(context), section_5(context),
        section_6(context), section_7(context), section_8(context), section_9(context),
    ]
    return document


def instructions_build(context: Context) -> Document:
    """The instructions for use for the deployer (Art. 13(3)), from the same data as the technical file."""
    document = _document(context, "instructions-for-use")
    lifetime = provider_facts(context, {"lifetime.expected": "Expected lifetime"})
    hardware = [figure for path, label in (("Parameters.TaskCpu.Default", "CPU units per task (1024 = 1 vCPU)"),
                                           ("Parameters.TaskMemory.Default", "Memory per task (MiB)"))
                if (figure := template_figure(path, label)) is not None]
    document.sections = [
        Section("13(3)(a)", "Provider", [Point("(a)", "Identity and contact details", provider_facts(context, {
            "provider.name": "Provider", "provider.address": "Address", "provider.contact": "Contact",
            "provider.authorised_representative": "Authorised representative",
        }))]),
        Section("13(3)(b)", "Characteristics, capabilities and limitations of performance", [
            Point("(b)(i)", "Intended purpose", [Text(PURPOSE), *provider_facts(context, {"intended_purpose": "Intended purpose"})]),
            Point("(b)(ii)", "Declared accuracy", declared_accuracy(context)),
            Point("(b)(iii)", "Known limits and circumstances that may lead to risks", limitations(context)),
            Point("(b)(iv)", "Explaining an estimate", [Items((
                "Each estimate comes with its 90% prediction interval, its interval group and how often that group's "
                "interval held in testing.",
                "The result page and the API list the inputs outside the training ranges and what drives the estimate.",
            ))]),
            Point("(b)(v)", "Accuracy for specific persons or groups", accuracy_by_group(context)),
            Point("(b)(vi)", "Input specification, and how to read the estimate and its range", input_specification(context)),
        ]),
        Section("13(3)(c)", "Pre-determined changes", [Point("(c)", "Changes", [Text(
            "None: a new model version serves only when staff make it serve, and each change is recorded.")])]),
        Section("13(3)(d)", "Human oversight measures", [Point("(d)", "Oversight", oversight(context))]),
        Section("13(3)(e)", "Resources, expected lifetime, maintenance", [
            Point("(e)", "Resources, lifetime and maintenance", [
                *([Facts(tuple(hardware))] if hardware else []), *lifetime,
                Items((
                    "Record actual charges as they are billed: monitoring needs them.",
                    "Read the monitoring alerts; compare a retrained challenger on stored predictions before making it serve.",
                    "Apply the pinned software updates of each release; the model artifact is verified against its card at start.",
                )),
                *schedule(context),
            ]),
        ]),
        Section("13(3)(f)", "Logs (Art. 12): what is kept, and how to read it", [Point("(f)", "Record-keeping", [
            Text("Staff read the records in the staff console (prediction history, model changes, charge overrides, "
                 "serving changes, access log) and export the prediction history and the access log as CSV (a "
                 "prediction with its reviewed charge); the API returns a prediction with its model version and overrides."),
            *record_keeping(context),
        ])]),
    ]
    return document


def document_render(document: Document, fmt: str) -> str:
    """The document as Markdown or a printable HTML page."""
    if fmt not in FORMATS:
        raise ValueError(f"The format is md or html, not {fmt!r}.")
    return render_to_string(f"technical_file/document.{fmt}", {"document": document})


def file_name(document: Document, fmt: str) -> str:
    return f"{document.slug}.{fmt}"


def documents_write(documents: list[Document], *, folder: Path, fmt: str) -> list[Path]:
    """Write each document into ``folder`` (made if needed) as NAME.md or NAME.html; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for document in documents:
        path = folder / file_name(document, fmt)
        path.write_text(document_render(document, fmt), encoding="utf-8")
        written.append(path)
    return written
