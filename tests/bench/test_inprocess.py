"""bench/inprocess.py: a POST handed straight to a WSGI application."""

import json

from bench.inprocess import wsgi_post


def test_a_post_reaches_the_application_whole_and_its_answer_is_read_and_closed():
    seen, closed = [], []

    class Answer(list):
        def close(self):
            closed.append(True)

    def application(environ, start_response):
        seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["CONTENT_TYPE"],
                     json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))))
        start_response("201 Created", [("Content-Type", "application/json")])
        return Answer([b"{}"])

    post = wsgi_post(application, "/predict", json.dumps({"age": 30}).encode())
    assert post() == "201 Created"
    assert post() == "201 Created"  # a fresh body each time, not an exhausted stream
    assert seen == [("POST", "/predict", "application/json", {"age": 30})] * 2
    assert closed == [True, True]
