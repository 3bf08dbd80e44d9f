"""manage.py record_actuals: a file of actual charges recorded whole or not at all, through call_command."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import ActualChargeChange, Prediction
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("billing", is_staff=True)


def write(tmp_path, text: str):
    path = tmp_path / "billed.csv"
    path.write_text(text)
    return path


def run(*args) -> str:
    out = StringIO()
    call_command("record_actuals", *map(str, args), stdout=out)
    return out.getvalue()


def test_records_every_row_with_the_user_and_says_how_many(tmp_path, staff_user):
    first, second = PredictionFactory.create_batch(2)
    path = write(tmp_path, f"actual_charges,prediction_id\n1234.5,{first.pk}\n99,{second.pk}\n")
    output = run(path, "--user", "billing")
    assert "2 rows read from" in output and "2 actual charges recorded or changed, 0 already had that value" in output
    assert list(Prediction.objects.order_by("pk").values_list("actual_charges", "actual_recorded_by__username")) == [
        (Decimal("1234.50"), "billing"), (Decimal("99.00"), "billing"),
    ]
    assert set(ActualChargeChange.objects.values_list("channel", flat=True)) == {"command"}


def test_running_the_same_file_again_changes_nothing(tmp_path):
    prediction = PredictionFactory()
    path = write(tmp_path, f"prediction_id,actual_charges\n{prediction.pk},10\n")
    run(path)
    assert "0 actual charges recorded or changed, 1 already had that value" in run(path)
    assert ActualChargeChange.objects.count() == 1
    assert Prediction.objects.get().actual_recorded_by is None  # no --user: recorded as the command line


def test_a_bad_file_is_refused_with_line_numbers_and_nothing_is_stored(tmp_path):
    good, other = PredictionFactory.create_batch(2)
    path = write(
        tmp_path,
        f"prediction_id,actual_charges\n{good.pk},10\n{other.pk},-1\n{good.pk},11\n{other.pk + 9},1e9\n",
    )
    with pytest.raises(CommandError) as caught:
        run(path)
    message = str(caught.value)
    assert message.startswith(f"{path} was not recorded (3 bad lines; nothing stored):")
    assert "line 3: actual_charges: The actual charges cannot be negative." in message
    assert f"line 4: prediction_id: prediction {good.pk} is on line 2 too; give each prediction one value." in message
    assert f"line 5: prediction_id: there is no prediction {other.pk + 9}." in message
    assert "line 5: actual_charges: The actual charges cannot be more than $1,000,000" in message
    assert not Prediction.objects.filter(actual_charges__isnull=False).exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--user", "nobody"], "There is no user 'nobody'"), (["--user", "member"], "not an active staff user")],
)
def test_the_user_must_be_active_staff(tmp_path, django_user_model, arguments, message):
    django_user_model.objects.create_user("member")
    prediction = PredictionFactory()
    with pytest.raises(CommandError, match=message):
        run(write(tmp_path, f"prediction_id,actual_charges\n{prediction.pk},1\n"), *arguments)
    assert Prediction.objects.get().actual_charges is None


def test_a_missing_or_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        run(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(CommandError, match="not UTF-8"):
        run(binary)
