"""The tutorial's approach, for the benchmark's comparison: a Flask app that calls PyCaret's
``predict_model`` on every request and stores nothing. Never deployed.

    gunicorn -w 2 -b 127.0.0.1:5200 bench.baseline_app:app
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
django.setup()

from flask import Flask, jsonify, request  # noqa: E402

from predictor import pipeline  # noqa: E402

app = Flask(__name__)
model = pipeline.get_model()


@app.post("/predict_api")
def predict_api():
    data = request.get_json(force=True)
    [charge] = pipeline.predict_charges_predict_model([data], model)
    return jsonify({"prediction": round(charge, 2)})
