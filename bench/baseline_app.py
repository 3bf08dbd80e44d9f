"""The tutorial's approach, for the benchmark's comparison: a Flask app that calls PyCaret's
``predict_model`` on every request and stores nothing. Never deployed.

    gunicorn -w 2 -b 127.0.0.1:5200 bench.baseline_app:app
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
django.setup()

from flask import Flask, jsonify, request  # noqa: E402

from pycaret.regression import predict_model  # noqa: E402

from predictor.ml.artifacts import get_model  # noqa: E402
from predictor.ml.predict import features_frame  # noqa: E402

app = Flask(__name__)
model = get_model()


@app.post("/predict_api")
def predict_api():
    """The tutorial's way, PyCaret's ``predict_model`` (~140 ms a row), on the same verified pipeline."""
    data = request.get_json(force=True)
    scored = predict_model(model.pipeline, data=features_frame([data]), verbose=False)
    return jsonify({"prediction": round(float(scored["prediction_label"].iloc[0]), 2)})
