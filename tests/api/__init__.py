"""Tests of the JSON API (predictor/api/): its operations, error answers, authentication and contract."""

import json

URL = "/api/v1/predictions"


def post_json(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)
