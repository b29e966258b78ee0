"""Load profiles (`make load PROFILE=smoke|stress`): Locust users in `locustfile.py`, the profiles
and the knee in `profiles.py`, the runner (stack, report to S3, gate) in `run.py`.
docs/benchmarks.md, "Load: smoke and stress"."""
