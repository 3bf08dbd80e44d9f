"""The rate limits' store (predictor/ratelimit.py), their settings, and the form's limit.

The window arithmetic is checked on times worked by hand; the store's atomicity by many
connections counting one key at once, which must admit exactly the limit. The API's limits are
in tests/api/test_ratelimit.py.
"""

import threading
from http import HTTPStatus

import pytest
from django.db import connection, connections
from django.urls import reverse

from predictor.models import Prediction, RateLimit
from predictor.security import ratelimit
from tests.test_settings import PROBE, PRODUCTION, start

# A time inside the minute [1,000,000,020, 1,000,000,080) since the epoch.
T = 1_000_000_030.5


def hit(key="k", rate=(3, 60), now=T):
    return ratelimit.rate_limit_hit(key=key, rate=rate, now=now)


# ---------------------------------------------------------------------------
# The window, by hand


@pytest.mark.django_db
def test_a_fixed_window_worked_by_hand():
    # 1,000,000,030.5 / 60 = 16,666,667.17..., so the window is [16,666,667 x 60, + 60) = [1,000,000,020, 1,000,000,080)
    # and 49.5 s of it are left: Retry-After rounds up to 50.
    answers = [hit() for _ in range(5)]

    assert [(d.allowed, d.hits, d.retry_after) for d in answers] == [
        (True, 1, 50), (True, 2, 50), (True, 3, 50), (False, 4, 50), (False, 4, 50),
    ]
    row = RateLimit.objects.get(key="k")
    assert (row.window_start, row.window_end, row.hits) == (1_000_000_020, 1_000_000_080, 4)
    # 0.8 s before the end: still refused, retry in 1 s; at the end a new window opens.
    assert (hit(now=1_000_000_079.2).allowed, hit(now=1_000_000_079.2).retry_after) == (False, 1)
    fresh = hit(now=1_000_000_080.0)
    assert (fresh.allowed, fresh.hits, fresh.retry_after) == (True, 1, 60)
    assert RateLimit.objects.get(key="k").window_start == 1_000_000_080


@pytest.mark.django_db
def test_keys_count_apart():
    for _ in range(3):
        hit(key="a")

    assert not hit(key="a").allowed
    assert hit(key="b").hits == 1


@pytest.mark.django_db
def test_an_ended_window_is_replaced_by_one_of_the_new_period():
    hit(rate=(3, 60))  # ends at 1,000,000,080

    # The limit is now 3/h: at 1,000,000,081 the hour is [277,777 x 3,600, + 3,600) = [999,997,200, 1,000,000,800).
    decision = hit(rate=(3, 3600), now=1_000_000_081.0)

    assert (decision.hits, decision.retry_after) == (1, 719)
    row = RateLimit.objects.get(key="k")
    assert (row.window_start, row.window_end) == (999_997_200, 1_000_000_800)


@pytest.mark.django_db
def test_a_clock_a_little_behind_counts_in_the_newer_window_instead_of_reopening_the_old_one():
    hit(now=1_000_000_080.0)  # another task, whose clock is ahead, opened [1,000,000,080, 1,000,000,140)

    late = hit(now=1_000_000_079.9)

    assert (late.hits, late.retry_after) == (2, 61)  # ceil(140 - 79.9)
    assert RateLimit.objects.get(key="k").window_start == 1_000_000_080


@pytest.mark.django_db
def test_the_count_stops_at_the_limit_plus_one():
    for _ in range(50):
        hit(rate=(2, 60))

    assert RateLimit.objects.get(key="k").hits == 3


@pytest.mark.django_db
def test_the_table_is_unlogged_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'predictor_rate_limit'")
        assert cursor.fetchone() == ("u",)


# ---------------------------------------------------------------------------
# The table stays small


@pytest.mark.django_db
def test_pruning_deletes_ended_windows_only_and_at_most_a_batch():
    for index in range(5):
        hit(key=f"old{index}", now=T)  # windows end at 1,000,000,080
    hit(key="current", now=1_000_000_085.0)  # ends at 1,000,000,140

    assert ratelimit.rate_limit_prune(now=1_000_000_090.0, batch=3) == 3
    assert ratelimit.rate_limit_prune(now=1_000_000_090.0, batch=3) == 2
    assert list(RateLimit.objects.values_list("key", flat=True)) == ["current"]


@pytest.mark.django_db
def test_a_check_that_opens_a_window_prunes_by_chance(monkeypatch):
    hit(key="old")
    monkeypatch.setattr(ratelimit, "PRUNE_CHANCE", 1.0)

    hit(key="k", now=1_000_000_081.0)  # hits 1: a window opens, and the chance is certain

    assert sorted(RateLimit.objects.values_list("key", flat=True)) == ["k"]


@pytest.mark.django_db
def test_a_check_inside_a_window_never_prunes(monkeypatch):
    hit(key="old")
    hit(key="k", now=1_000_000_081.0)
    monkeypatch.setattr(ratelimit, "PRUNE_CHANCE", 1.0)

    hit(key="k", now=1_000_000_082.0)  # hits 2

    assert RateLimit.objects.count() == 2


# ---------------------------------------------------------------------------
# Shared and atomic: many connections, one key


def run_together(work, threads: int) -> None:
    """``work`` in ``threads`` threads started together, each with its own PostgreSQL connection."""
    start_together = threading.Barrier(threads)

    def client() -> None:
        try:
            start_together.wait()
            work()
        finally:
            connections.close_all()

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@pytest.mark.django_db(transaction=True)
def test_concurrent_connections_on_one_key_admit_exactly_the_limit():
    """Each thread has its own PostgreSQL connection (Django's are per thread), as each gunicorn
    worker and each task has; they start together and count 16 x 40 = 640 requests against 100."""
    threads, per_thread, limit = 16, 40, 100
    admitted = []

    def client() -> None:
        admitted.append(sum(hit(key="shared", rate=(limit, 3600), now=T).allowed for _ in range(per_thread)))

    run_together(client, threads)

    assert len(admitted) == threads
    assert sum(admitted) == limit
    assert RateLimit.objects.get(key="shared").hits == limit + 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_predictions_counted_in_their_insert_store_exactly_the_limit(valid_inputs, active_model_version):
    """The one statement that counts a prediction and stores it (services.prediction_row_insert), from 16
    connections at once: exactly the limit admitted, and exactly that many rows, none for a refusal."""
    from predictor import services

    threads, per_thread, limit = 16, 20, 50
    outcomes = []

    def client() -> None:
        for _ in range(per_thread):
            charge = ratelimit.Charge("anon:198.51.100.9", (limit, 3600))
            try:
                services.prediction_create_cleaned(inputs=valid_inputs, source="api", rate_limit=charge)
                outcome = "stored"
            except ratelimit.RateLimited:
                outcome = "refused"
            # The statement that stored (or refused) it recorded its count on the charge.
            outcomes.append(outcome if charge.decision is not None else "not counted")

    run_together(client, threads)

    assert len(outcomes) == threads * per_thread
    assert outcomes.count("stored") == limit == Prediction.objects.count()
    assert outcomes.count("refused") == threads * per_thread - limit
    assert RateLimit.objects.get(key="anon:198.51.100.9").hits == limit + 1


@pytest.mark.django_db
def test_a_prediction_is_counted_once_in_the_statement_that_stores_it(valid_inputs, django_assert_num_queries):
    from predictor import services, serving

    serving.model_serving()  # the active version, read once and kept
    serving.serving_pause_state()  # and whether the service is paused
    charge = ratelimit.Charge("anon:192.0.2.1", (2, 60))
    with django_assert_num_queries(1) as captured:
        services.prediction_create_cleaned(inputs=valid_inputs, source="web", rate_limit=charge)
    assert captured.captured_queries[0]["sql"].startswith("WITH hit AS (")
    assert charge.check().hits == 1  # made: no second count
    assert RateLimit.objects.get(key="anon:192.0.2.1").hits == 1 and Prediction.objects.count() == 1

    services.prediction_create_cleaned(inputs=valid_inputs, source="web", rate_limit=ratelimit.Charge(charge.key, (2, 60)))
    with pytest.raises(ratelimit.RateLimited):
        services.prediction_create_cleaned(inputs=valid_inputs, source="web", rate_limit=ratelimit.Charge(charge.key, (2, 60)))
    assert Prediction.objects.count() == 2
    assert RateLimit.objects.get(key="anon:192.0.2.1").hits == 3


# ---------------------------------------------------------------------------
# Whose count


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "anon:203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "anon:2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "anon:2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "anon:2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "anon:203.0.113.7"),
    ],
)
def test_an_address_counts_alone_and_an_ipv6_one_by_its_64_block(rf, address, key):
    assert ratelimit.anonymous_key(rf.post("/", REMOTE_ADDR=address)) == key


# ---------------------------------------------------------------------------
# The settings


RATE_PROBE = PROBE.replace(
    '"pipeline_path": str(settings.PREDICTOR_PIPELINE_PATH),',
    '"pipeline_path": str(settings.PREDICTOR_PIPELINE_PATH), "anon": settings.PREDICTOR_RATE_LIMIT_ANON, '
    '"token": settings.PREDICTOR_RATE_LIMIT_TOKEN, "records": settings.PREDICTOR_API_ANON_MAX_RECORDS,',
)


def test_the_limits_default_to_60_a_minute_600_a_minute_and_100_records(tmp_path):
    result = start(tmp_path, "-c", RATE_PROBE, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert '"anon": [60, 60], "token": [600, 60], "records": 100' in result.stdout


def test_each_unit_is_read(tmp_path):
    result = start(
        tmp_path, "-c", RATE_PROBE, **PRODUCTION,
        PREDICTOR_RATE_LIMIT_ANON="30/s", PREDICTOR_RATE_LIMIT_TOKEN="5/d", PREDICTOR_API_ANON_MAX_RECORDS="1",
    )
    assert '"anon": [30, 1], "token": [5, 86400], "records": 1' in result.stdout
    result = start(tmp_path, "-c", RATE_PROBE, **PRODUCTION, PREDICTOR_RATE_LIMIT_ANON="7/h")
    assert '"anon": [7, 3600]' in result.stdout


@pytest.mark.parametrize("variable", ["PREDICTOR_RATE_LIMIT_ANON", "PREDICTOR_RATE_LIMIT_TOKEN"])
@pytest.mark.parametrize("value", ["60", "60/min", "60/M", "0/m", "-1/m", "1.5/s", " 60/m", "60 /m", "/m", "", "1000000001/s", "٦٠/m"])
def test_a_bad_rate_stops_the_start_naming_the_variable(tmp_path, variable, value):
    result = start(tmp_path, "-c", RATE_PROBE, **PRODUCTION, **{variable: value})

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert f"{variable}={value!r} is not a rate: write N/s, N/m, N/h or N/d" in message


@pytest.mark.parametrize("value", ["0", "10001", "abc", "1e3", "-5", ""])
def test_a_bad_anonymous_batch_size_stops_the_start_naming_the_variable(tmp_path, value):
    result = start(tmp_path, "-c", RATE_PROBE, **PRODUCTION, PREDICTOR_API_ANON_MAX_RECORDS=value)

    assert result.returncode != 0
    assert f"PREDICTOR_API_ANON_MAX_RECORDS={value!r} is not a whole number from 1 to 10,000" in result.stderr


# ---------------------------------------------------------------------------
# The form


@pytest.fixture
def form_limit(settings):
    settings.PREDICTOR_RATE_LIMIT_ANON = (2, 60)


@pytest.mark.django_db
def test_a_form_post_over_the_limit_is_429_with_retry_after_and_stores_nothing(client, valid_inputs, form_limit):
    url = reverse("predictor:predict")
    assert [client.post(url, valid_inputs).status_code for _ in range(2)] == [HTTPStatus.FOUND] * 2

    response = client.post(url, valid_inputs)

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 60
    html = response.content.decode()
    assert "Too many estimates in a short time" in html
    assert f"Please try again in {response['Retry-After']} second" in html
    assert Prediction.objects.count() == 2


@pytest.mark.django_db
def test_a_bad_form_post_counts_too(client, valid_inputs, form_limit):
    url = reverse("predictor:predict")
    client.post(url, {**valid_inputs, "age": 5})
    client.post(url, {**valid_inputs, "age": 5})

    assert client.post(url, valid_inputs).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_an_empty_form_post_shows_the_empty_form_stores_nothing_and_counts(client, form_limit):
    url = reverse("predictor:predict")
    response = client.post(url, {})

    assert response.status_code == HTTPStatus.OK
    assert 'name="age"' in response.content.decode() and "errorlist" not in response.content.decode()
    assert Prediction.objects.count() == 0
    assert RateLimit.objects.get(key="anon:127.0.0.1").hits == 1


@pytest.mark.django_db
def test_the_429_page_is_in_chinese_for_a_chinese_reader(client, valid_inputs, settings):
    settings.PREDICTOR_RATE_LIMIT_ANON = (1, 60)
    url = reverse("predictor:predict")
    client.post(url, valid_inputs, HTTP_ACCEPT_LANGUAGE="zh-CN")

    response = client.post(url, valid_inputs, HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    html = response.content.decode()
    assert "短时间内的估算请求过多" in html and f"请在 {response['Retry-After']} 秒后重试" in html


@pytest.mark.django_db
def test_the_form_page_itself_is_not_limited(client, valid_inputs, settings):
    settings.PREDICTOR_RATE_LIMIT_ANON = (1, 60)
    url = reverse("predictor:predict")

    assert {client.get(url).status_code for _ in range(5)} == {HTTPStatus.OK}
    assert client.head(url).status_code == HTTPStatus.OK
    assert client.post(url, valid_inputs).status_code == HTTPStatus.FOUND


@pytest.mark.django_db
def test_a_store_that_cannot_answer_gives_the_forms_503_page_not_a_500(client, valid_inputs, locked_rate_limit_table):
    response = client.post(reverse("predictor:predict"), valid_inputs)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "We could not record your estimate, so we are not showing one." in response.content.decode()
