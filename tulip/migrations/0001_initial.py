# The feature-flag overrides moved from ops to the platform (tulip.flags is their one owner). The
# table already exists (ops' 0001 created it): this migration only records the model in tulip's
# state, and ops' 0002 drops it from ops' state; no row is touched.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("ops", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="FeatureFlagOverride",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("inject_latency_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("force_leader", models.CharField(
                            blank=True, help_text="AWS region; empty = none; unset = env default",
                            max_length=32, null=True)),
                        ("force_leader_override", models.BooleanField(
                            default=False,
                            help_text="apply force_leader above (an empty value clears it)")),
                        ("deny_writes", models.BooleanField(blank=True, null=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("updated_by", models.CharField(blank=True, max_length=150)),
                    ],
                    options={
                        "verbose_name": "feature flags",
                        "verbose_name_plural": "feature flags",
                        "db_table": "ops_featureflagoverride",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
