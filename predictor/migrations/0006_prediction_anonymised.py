# Retention (issue 12): a prediction whose inputs were replaced by bands is marked with the time.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('predictor', '0005_rate_limit'),
    ]

    operations = [
        migrations.AddField(
            model_name='prediction',
            name='anonymised_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
