"""The technical file a regulator asks for (EU AI Act Art. 11, Annex IV) and the instructions for use
(Art. 13(3)), generated from what the product records; ``manage.py technical_file`` and a staff page.

- ``figures``: what a document is made of: figures naming their source and date, blocks, sections.
- ``provider``: the provider file (what only people can write), read and checked line by line.
- ``sources``: readers of the model cards, settings, constants, installed packages, the deploy template,
  the routes, the API schema and the commands.
- ``context``: everything both documents read, read once (with the live monitoring figures).
- ``records``: record-keeping (Art. 12): what is logged for each prediction and staff action, for how long.
- ``oversight``: human oversight (Art. 14), one function per facility (``override_facility``,
  ``pause_facility``), and every logged record.
- ``general``: Annex IV section 1; ``development``: section 2; ``functioning``: sections 3 and 4;
  ``lifecycle``: sections 5 to 9.
- ``documents``: both documents built, rendered (Markdown, HTML) and written.
- ``views``: the staff page that shows and downloads them.
"""

from .context import Context, context_build
from .documents import FORMATS, document_render, documents_write, instructions_build, technical_file_build
from .provider import FIELDS, Provider, ProviderFileError, provider_path, provider_read

__all__ = [
    "FIELDS",
    "FORMATS",
    "Context",
    "Provider",
    "ProviderFileError",
    "context_build",
    "document_render",
    "documents_write",
    "instructions_build",
    "provider_path",
    "provider_read",
    "technical_file_build",
]
