"""The staff console, one module per admin area (Django's autodiscovery imports this package); the
site itself, with every staff page mounted and guarded one way, is ``predictor.sites``.

- ``predictions``: the prediction history, read-only but for the actual charges.
- ``model_versions``: model versions (champion, challenger, the page that changes them), the record of
  model changes (read-only), and batches.
- ``access``: API tokens and the staff access log.
- ``oversight``: the records of overrides of estimates and of pauses and resumes of the service.
- ``mixins``: read-only history and the logged CSV export, shared by the areas.
"""

from . import access, model_versions, oversight, predictions

__all__ = ["access", "model_versions", "oversight", "predictions"]
