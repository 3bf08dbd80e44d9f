"""Human oversight (EU AI Act Art. 14(4)(d) and (e)): staff override an estimate, or stop the service.

- ``services``: a reviewed charge recorded over a stored prediction's estimate (the estimate stays;
  who, when, the figure before, the new one and why), and pausing or resuming the service; both
  records append-only. The admin pages, the API and the commands call them.
- ``selectors``: a prediction's overrides and its reviewed charge in force, the record of pauses and
  resumes, and the overrides' figures for monitoring, apart from the model's own accuracy.
- ``forms``: the staff pages' forms (they carry the text; the services check it).
- ``views``: the staff pages in the admin: override a prediction's estimate, pause or resume the service.

Whether the service is paused is read on every prediction from ``predictor.serving``'s cache
(``serving_pause_state``, re-read at most every PREDICTOR_PAUSE_TTL seconds).
"""
