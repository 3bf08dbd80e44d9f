"""What `make image-test` asks of the running container, as a user and an API client would.

    python docker/image_smoke.py BASE_URL DATABASE_URL

Waits for /healthz, submits the form (GET for the CSRF cookie and token, POST, follow the
redirect to the result page) and, where the JSON API answers, posts one prediction to it;
then checks that each prediction is a row in PostgreSQL with the right source. Exits
non-zero with a message on the first thing that is wrong.
"""

import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg2

PATIENT = {"age": "19", "sex": "female", "bmi": "27.9", "children": "0", "smoker": "yes", "region": "southwest"}
HEALTH_TIMEOUT_SECONDS = 240


def fail(message: str) -> None:
    print(f"image-smoke: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for_health(base_url: str) -> dict:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(exc)
        time.sleep(2)
    fail(f"/healthz did not answer 200 within {HEALTH_TIMEOUT_SECONDS} s (last: {last})")


def rows(database_url: str, source: str) -> list[tuple]:
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, age, sex, bmi, smoker, region, predicted_charges FROM predictor_prediction "
            "WHERE source = %s ORDER BY id",
            [source],
        )
        return cursor.fetchall()


def submit_form(base_url: str) -> str:
    """The result page after a real form submission, with the cookie and token a browser would send."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base_url}/", timeout=30) as response:
        page = response.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        fail("the form page has no CSRF token")
    body = urllib.parse.urlencode({**PATIENT, "csrfmiddlewaretoken": match.group(1)}).encode()
    request = urllib.request.Request(f"{base_url}/", data=body, headers={"Referer": f"{base_url}/"})
    try:
        with opener.open(request, timeout=60) as response:
            if "/result/" not in response.url:
                fail(f"the form POST did not redirect to a result page (ended at {response.url})")
            return response.read().decode()
    except urllib.error.HTTPError as exc:
        fail(f"the form POST answered {exc.code}: {exc.read()[:500]!r}")


def post_api(base_url: str) -> dict | None:
    """The created prediction, or None when the API is not part of this build (404)."""
    record = {**PATIENT, "age": 33, "bmi": 22.705, "children": 0, "sex": "male", "smoker": "no", "region": "northwest"}
    request = urllib.request.Request(
        f"{base_url}/api/v1/predictions",
        data=json.dumps(record).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if response.status != 201:
                fail(f"POST /api/v1/predictions answered {response.status}, not 201")
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        fail(f"POST /api/v1/predictions answered {exc.code}: {exc.read()[:500]!r}")


def main(base_url: str, database_url: str) -> None:
    health = wait_for_health(base_url)
    print(f"image-smoke: /healthz {health}")
    if health.get("database") != "ok" or health.get("model") != "ok":
        fail(f"/healthz is not ready: {health}")

    page = submit_form(base_url)
    charge = re.search(r'id="predicted-charges">\s*(\$[0-9,]+\.[0-9]{2})', page)
    if not charge:
        fail("the result page shows no charge in dollars")
    web_rows = rows(database_url, "web")
    if len(web_rows) != 1 or web_rows[0][1:6] != (19, "female", 27.9, "yes", "southwest"):
        fail(f"expected the one submitted patient as a 'web' row in PostgreSQL, found {web_rows}")
    if f"${web_rows[0][6]:,}" != charge.group(1):
        fail(f"the page shows {charge.group(1)} but PostgreSQL stored {web_rows[0][6]}")
    print(f"image-smoke: form -> {charge.group(1)}, stored as prediction {web_rows[0][0]}")

    created = post_api(base_url)
    if created is None:
        print("image-smoke: /api/v1/predictions answers 404 in this build: API check skipped")
        return
    api_rows = rows(database_url, "api")
    if len(api_rows) != 1 or api_rows[0][1:6] != (33, "male", 22.705, "no", "northwest"):
        fail(f"expected the one API patient as an 'api' row in PostgreSQL, found {api_rows}")
    print(f"image-smoke: API -> {json.dumps(created)[:200]}, stored as prediction {api_rows[0][0]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2])
