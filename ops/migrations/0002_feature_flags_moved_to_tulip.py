# The feature-flag overrides now belong to the platform (tulip/models.py, same table): ops forgets
# the model in its state only; the table and its row stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("ops", "0001_initial"),
        ("tulip", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="FeatureFlagOverride")],
            database_operations=[],
        ),
    ]
