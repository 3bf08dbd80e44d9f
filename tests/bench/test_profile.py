"""make bench-profile's attribution of a sampled stack to a component (hand-written stacks, as py-spy
writes them: outermost frame first, ``function (path:line)``, ';' between frames)."""

from bench.profile import component

WORKER = ("SyncWorker.handle_request (gunicorn/workers/sync.py:178);"
          "WSGIHandler.__call__ (django/core/handlers/wsgi.py:124);"
          "BaseHandler.get_response (django/core/handlers/base.py:140);"
          "inner (django/core/handlers/exception.py:55);"
          "MiddlewareMixin.__call__ (django/utils/deprecation.py:129);"
          "inner (django/core/handlers/exception.py:55);"
          "AxesMiddleware.__call__ (axes/middleware.py:40);"
          "inner (django/core/handlers/exception.py:55);"
          "BaseHandler._get_response (django/core/handlers/base.py:197);")


def stack(*frames: str) -> str:
    return WORKER + ";".join(frames)


def test_the_views_own_work_under_a_wrapping_middleware_is_the_views():
    assert component(stack("predict (predictor/views.py:120)", "prediction_result_token (predictor/tokens.py:30)",
                           "dumps (django/core/signing.py:150)", "b64encode (base64.py:58)")) == (
        "the views and services (predictor/)")
    assert component(stack("predict (predictor/views.py:120)", "redirect (django/shortcuts.py:48)")) == (
        "URL resolution, request/response objects")


def test_a_wrapping_middlewares_own_frames_are_its_own():
    assert component(WORKER.replace("inner (django/core/handlers/exception.py:55);BaseHandler._get_response "
                                    "(django/core/handlers/base.py:197);", "")
                     + "get_client_ip_address (axes/helpers.py:150);ip_address (ipaddress.py:28)") == "axes middleware"


def test_an_umbrella_owns_the_libraries_beneath_it():
    assert component(stack("predict (predictor/views.py:120)",
                           "prediction_create_cleaned (predictor/services.py:90)",
                           "prediction_row_insert (predictor/services.py:230)",
                           "CursorWrapper.execute (django/db/backends/utils.py:79)",
                           "_execute (django/db/backends/utils.py:105)")) == (
        "the INSERT with its rate-limit count (one statement)")
    assert component(stack("predict (predictor/views.py:120)", "predict_fast (predictor/ml/fast.py:40)",
                           "dot (numpy/core/multiarray.py:12)")) == "model predict (predictor/ml)"


def test_ninja_is_its_own_frames_and_the_view_it_calls_is_the_views():
    api = stack("PathView._sync_view (ninja/operation.py:500)", "Operation.run (ninja/operation.py:120)")
    assert component(api + ";_result_to_response (ninja/operation.py:260);dumps (json/__init__.py:238)") == (
        "ninja parsing/validation/rendering")
    assert component(api + ";prediction_create (predictor/api/predictions.py:80);"
                           "prediction_result (predictor/serving.py:30)") == "the views and services (predictor/)"


def test_what_is_left_goes_to_the_innermost_fallback():
    assert component(WORKER.split(";WSGIHandler")[0] + ";SyncWorker.accept (gunicorn/workers/sync.py:30)") == (
        "gunicorn (socket, HTTP parsing, access log)")
    assert component(stack("BaseHandler.resolve_request (django/core/handlers/base.py:313)",
                           "URLResolver.resolve (django/urls/resolvers.py:660)")) == (
        "URL resolution, request/response objects")
    assert component("<module> (gunicorn:6);main (mymain.py:3)") == "other (interpreter)"
