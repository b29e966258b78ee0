"""The platform's one table in Django's database: the runtime feature-flag overrides that ops edit
in the admin (tulip.flags reads them; docs/api.md lists the flags)."""

from __future__ import annotations

from django.db import models


class FeatureFlagOverride(models.Model):
    """One row (pk 1). A null field means "the environment's FEATURE_FLAGS value"."""

    inject_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    force_leader = models.CharField(max_length=32, null=True, blank=True,
                                    help_text="AWS region; empty = none; unset = env default")
    force_leader_override = models.BooleanField(
        default=False, help_text="apply force_leader above (an empty value clears it)")
    deny_writes = models.BooleanField(null=True, blank=True)
    accept_when_leader_down = models.BooleanField(
        null=True, blank=True, help_text="a follower that cannot reach the leader accepts "
                                         "provisional orders (unset = env default)")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        # The table ops created before the flags moved here: kept, so no override is lost.
        db_table = "ops_featureflagoverride"
        verbose_name = "feature flags"
        verbose_name_plural = "feature flags"

    def __str__(self) -> str:
        return "feature flag overrides"
