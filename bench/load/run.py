"""`python -m bench.load --profile smoke|stress` (`make load PROFILE=...`): Locust, headless,
against a TulipBroker stack; the report (CSV, HTML, a JSON summary with the per-step figures and
the knee) stored in the reports bucket through django-storages (STORAGES["reports"] in
tulip/settings.py: moto's S3 locally, the region's bucket deployed); its S3 key printed; with
`--gate`, the run judged by the pipeline gate (`manage.py gate`, ops/gate.py).

Which stack:
- `--host URL`: that one, configured by this process's environment (how the deployed load task
  runs: the services' variables, the task role's credentials);
- else the local stack `make run` started, found through its `local.env` in the state directory
  (`--state-dir`, default TULIP_STATE_DIR or `.tulip/`) when its HTTP server answers;
- else a local stack started here for the run and stopped after it (`--regions` as for
  `make run`), with its own state directory and Redis key prefix.

Exit status: 0 when the run passes. `smoke` passes when the gate passes (if asked), unexpected
answers are at most 1 %, and the subscribers saw no seq gap. `stress` drives the service past its
knee on purpose, so the gate's latency and 5xx limits are reported, not enforced; it passes when
the gate's other reasons (double fills, seq gaps, missing metrics) are absent, the subscribers saw
no gap, and some step held.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import profiles

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
TRADER_IDENTITIES = 16  # Cognito users the traders act as (orders cross between them)
# The local projector publishes the SLO metrics to CloudWatch every 15 s (`project_streams
# --publish-every`), each publish covering the interval since the one before. The gate waits
# PUBLISH_SETTLE_S after the run so that the run's last seconds are published, and its window
# opens PUBLISH_EVERY_S after the warm-up ended: the first publish after that covers the measured
# run only (the one before it may still hold warm-up requests).
PUBLISH_EVERY_S = 15.0
PUBLISH_SETTLE_S = 16.0
GATE_MIN_WINDOW_S = 60  # `manage.py gate --window` takes no less
# The gate's reasons stress reports but does not enforce: a latency or 5xx limit breached (never
# a missing metric, a double fill or a seq gap).
GATE_SLO_BREACH = re.compile(r"^(LatencyP95|Http5xxRate) [0-9.]+ (ms|%) > ")
REPORT_FILES = {"report.html": "text/html", "locust_stats.csv": "text/csv",
                "locust_stats_history.csv": "text/csv", "locust_failures.csv": "text/csv",
                "locust_exceptions.csv": "text/csv", "summary.json": "application/json"}


def say(message: str) -> None:
    print(f"[load] {message}", flush=True)


# ------------------------------------------------------------------------------ the target
@dataclass
class Target:
    urls: dict[str, str]  # region -> base URL the load is spread over
    env: dict[str, str]  # the stack's configuration (what manage.py and Django read)
    started: bool = False
    stack: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        return next(iter(self.urls.values()))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _local_env(state_dir: Path) -> dict[str, str] | None:
    from tulip.config import read_env_file

    env = read_env_file(state_dir / "local.env")
    url = env.get("TULIP_HTTP_URL", "")
    if not url or not _healthy(url):
        return None
    from tulip.aws import LOCAL_CREDENTIALS_ENV

    return {**os.environ, **env, **LOCAL_CREDENTIALS_ENV, "TULIP_STATE_DIR": str(state_dir)}


def _region_urls(env: dict[str, str], regions: tuple[str, ...]) -> dict[str, str]:
    from tulip.config import region_url_variable

    urls = {}
    for region in regions:
        url = env.get(region_url_variable(region))
        if not url:
            raise SystemExit(f"[load] the running stack does not serve region {region} "
                             f"(no {region_url_variable(region)} in its local.env); stop it or "
                             "leave REGIONS out")
        urls[region] = url
    return urls


@contextlib.contextmanager
def target(args: argparse.Namespace) -> Iterator[Target]:
    regions = tuple(r.strip() for r in (args.regions or "").split(",") if r.strip())
    if args.host:
        yield Target({"(given)": args.host.rstrip("/")}, dict(os.environ))
        return
    state_dir = Path(args.state_dir or os.environ.get("TULIP_STATE_DIR") or REPO / ".tulip")
    env = _local_env(state_dir)
    if env is not None:
        served = tuple(r for r in env.get("TULIP_REGIONS", env["AWS_REGION"]).split(",") if r)
        urls = _region_urls(env, regions or served[:1])
        say(f"using the running local stack ({state_dir / 'local.env'}): "
            + ", ".join(f"{r} {u}" for r, u in urls.items()))
        yield Target(urls, env)
        return
    yield from _started(regions or ("us-east-1",))


def _started(regions: tuple[str, ...]) -> Iterator[Target]:
    from devstack.launcher import LocalStack, StackOptions

    state = Path(tempfile.mkdtemp(prefix="tulip-load-stack-"))
    say(f"no local stack is running: starting one for the run ({', '.join(regions)}; "
        f"state in {state})")
    stack = LocalStack(StackOptions(
        state_dir=state, regions=regions, symbols=os.environ.get("TULIP_SYMBOLS") or "TULIP",
        redis_key_prefix=f"tulip-load-{secrets.token_hex(3)}"))
    try:
        stack.start(progress=lambda message: say(f"  {message}"))
        yield Target(dict(stack.http_urls), dict(stack.env), started=True, stack=stack)
    finally:
        say("stopping the stack started for the run")
        stack.stop()


# ------------------------------------------------------------------------------ users
def trader_tokens(env: dict[str, str], count: int) -> list[str]:
    """`count` Cognito users in the traders group (created when missing, a fresh random password
    each run), signed in: their access tokens. The deployed load task's role may do exactly this
    (deploy/stacks/pipeline.py)."""
    from tulip import aws
    from tulip.config import load_config

    cfg = load_config(env)
    cognito = aws.client("cognito-idp", cfg, region=cfg.cognito_region)
    password = f"Ld-{secrets.token_urlsafe(18)}-9a!"
    tokens = []
    for index in range(count):
        username = f"load-trader-{index:02d}"
        try:
            cognito.admin_get_user(UserPoolId=cfg.cognito_user_pool_id, Username=username)
        except cognito.exceptions.UserNotFoundException:
            cognito.admin_create_user(UserPoolId=cfg.cognito_user_pool_id, Username=username,
                                      MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=cfg.cognito_user_pool_id, Username=username,
                                        Password=password, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=cfg.cognito_user_pool_id, Username=username,
                                        GroupName="traders")
        result = cognito.admin_initiate_auth(
            UserPoolId=cfg.cognito_user_pool_id, ClientId=cfg.cognito_app_client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password})
        tokens.append(result["AuthenticationResult"]["AccessToken"])
    return tokens


# ------------------------------------------------------------------------------ the run
def run_locust(profile: profiles.Profile, tgt: Target, tokens: list[str], run_dir: Path,
               symbols: str) -> int:
    tokens_file = run_dir / "tokens.json"
    tokens_file.touch(mode=0o600)
    tokens_file.write_text(json.dumps(tokens), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "LOAD_PLAN": json.dumps(profiles.to_json(profile)),
           "LOAD_TOKENS_FILE": str(tokens_file), "LOAD_HOSTS": json.dumps(list(tgt.urls.values())),
           "LOAD_SYMBOLS": symbols, "LOAD_STEPS_OUT": str(run_dir / "steps.json")}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--host", tgt.primary, "--csv", str(run_dir / "locust"),
               "--html", str(run_dir / "report.html"), "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "3", "--exit-code-on-error", "0"]
    with open(run_dir / "locust.log", "wb") as log:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=profile.seconds + 180, check=False)
    tokens_file.unlink()
    return result.returncode


def gate_window(measured_from: float | None) -> int:
    """Seconds from a publish interval after the warm-up to now (at least the gate's minimum;
    a run shorter than that has warm-up requests in its window)."""
    if measured_from is None:
        return GATE_MIN_WINDOW_S
    return max(GATE_MIN_WINDOW_S, math.floor(time.time() - measured_from - PUBLISH_EVERY_S - 1))


def run_gate(tgt: Target, window_s: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "manage.py", "gate", "--window", str(window_s)],
                            cwd=REPO, env=tgt.env, capture_output=True, text=True, timeout=300,
                            check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode in (0, 1) and lines:
        with contextlib.suppress(ValueError):
            verdict: dict[str, Any] = json.loads(lines[-1])
            return verdict
    return {"pass": False, "reasons": [
        f"the gate did not answer (exit {result.returncode}): {result.stderr.strip()[-300:]}"]}


def store_report(env: dict[str, str], run_dir: Path, profile: str) -> tuple[str, str, list[str]]:
    """Every report file under load-reports/<profile>/<UTC time>-<id>/ in the reports bucket,
    through django-storages. Returns (bucket, prefix, keys)."""
    os.environ.update(env)  # Django's settings read the target stack's configuration
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tulip.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    storage = storages["reports"]
    location = str(settings.STORAGES["reports"]["OPTIONS"]["location"]).strip("/")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = f"{profile}/{stamp}-{secrets.token_hex(3)}"
    keys = []
    for name, content_type in REPORT_FILES.items():
        path = run_dir / name
        if not path.is_file():
            continue
        content = ContentFile(path.read_bytes(), name=name)
        content.content_type = content_type  # type: ignore[attr-defined]
        saved = storage.save(f"{folder}/{name}", content)
        keys.append(f"{location}/{saved}")
    return str(settings.TULIP.reports_bucket), f"{location}/{folder}/", keys


# ------------------------------------------------------------------------------ the verdict
def verdict(profile: profiles.Profile, summary: dict[str, Any]) -> list[str]:
    """Why the run fails (empty: it passes); see the module docstring."""
    problems = []
    steps = summary["steps"]
    gaps = summary["subscribers"].get("gaps", 0)
    if gaps:
        problems.append(f"subscribers saw {gaps} seq/prevSeq gap(s)")
    if not summary["subscribers"].get("connects"):
        problems.append("no subscriber connected")
    gate = summary.get("gate")
    if profile.name == "stress":
        if summary["knee"] is None:
            problems.append("no step held (accept p95 <= 250 ms, errors <= 1 %)")
        if gate is not None:
            problems += [f"gate: {r}" for r in gate.get("reasons", [])
                         if not GATE_SLO_BREACH.match(r)]
    else:
        requests = sum(s["requests"] for s in steps)
        errors = sum(s["errors"] for s in steps)
        if not requests:
            problems.append("no request measured")
        elif 100.0 * errors / requests > profiles.ERROR_PCT_MAX:
            problems.append(f"unexpected answers {errors}/{requests} > "
                            f"{profiles.ERROR_PCT_MAX:.0f} %")
        if gate is not None and not gate.get("pass"):
            problems += [f"gate: {r}" for r in gate.get("reasons", [])]
    return problems


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def table(summary: dict[str, Any]) -> str:
    lines = ["| step | offered req/s | users | achieved req/s | accept n | accept p50 / p95 / p99 ms "
             "| errors % | WS msgs/s | commit->client p50 / p95 / p99 ms | WS gaps | held |",
             "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---|"]
    for s in summary["steps"]:
        a, c = s["accept"], s["commitToClient"]
        lines.append(
            f"| {s['step']} | {s['offeredRate']:.0f} | {s['users']} | {s['achievedRate']:.1f} | "
            f"{a['n']} | {_ms(a['p50'])} / {_ms(a['p95'])} / {_ms(a['p99'])} | "
            f"{s['errorPct']:.2f} | {s['wsMessagesPerS']:.0f} | "
            f"{_ms(c['p50'])} / {_ms(c['p95'])} / {_ms(c['p99'])} | {s['wsGaps']} | "
            f"{'yes' if s['held'] else 'no: ' + s['why']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(profiles.PROFILES), default="smoke")
    parser.add_argument("--host", default=os.environ.get("LOAD_TARGET_URL"),
                        help="the API's base URL (default: the local stack)")
    parser.add_argument("--regions", default=os.environ.get("REGIONS", ""),
                        help="comma-separated regions to spread the load over (local stack)")
    parser.add_argument("--state-dir", help="the local stack's state directory (local.env)")
    parser.add_argument("--seconds", type=float,
                        help="smoke: the run's length; stress: each step's (default 60 / 20)")
    parser.add_argument("--rates", help="stress: offered req/s per step, comma-separated")
    parser.add_argument("--warmup", type=float,
                        help="unmeasured seconds before the first step (default 20)")
    parser.add_argument("--gate", action="store_true",
                        help="judge the run with the pipeline gate (manage.py gate)")
    parser.add_argument("--keep", action="store_true", help="keep the local run directory")
    args = parser.parse_args(argv)

    rates = [float(r) for r in args.rates.split(",")] if args.rates else None
    profile = profiles.make_profile(args.profile, args.seconds, rates, args.warmup)
    run_dir = Path(tempfile.mkdtemp(prefix=f"tulip-load-{profile.name}-"))
    with target(args) as tgt:
        symbols = tgt.env.get("TULIP_SYMBOLS") or "TULIP"
        tokens = trader_tokens(tgt.env, TRADER_IDENTITIES)
        say(f"{profile.name}: {len(profile.steps)} step(s), offered "
            f"{', '.join(f'{s.rate:.0f}' for s in profile.steps)} req/s, "
            f"{profile.subscribers} WebSocket subscribers, up to {profile.seconds:.0f} s with a "
            f"{profile.warmup_s:.0f} s warm-up; "
            f"symbols {symbols}; against {', '.join(tgt.urls.values())}")
        code = run_locust(profile, tgt, tokens, run_dir, symbols)
        steps_file = run_dir / "steps.json"
        if code != 0 or not steps_file.is_file():
            log = (run_dir / "locust.log").read_text(encoding="utf-8", errors="replace")
            print(log[-4000:], file=sys.stderr)
            say(f"Locust failed (exit {code}); its output is above")
            return 2
        collected = json.loads(steps_file.read_text(encoding="utf-8"))
        summary: dict[str, Any] = {
            "profile": profile.name, "targets": tgt.urls, "symbols": symbols,
            "startedStack": tgt.started, "finishedAt": datetime.now(UTC).isoformat(),
            "plan": profiles.to_json(profile), "runS": collected["runS"],
            "stoppedEarly": collected["stoppedEarly"], "steps": collected["steps"],
            "subscribers": collected["subscribers"],
            "knee": profiles.knee(collected["steps"]),
            "limits": {"acceptP95Ms": profiles.ACCEPT_P95_MAX_MS,
                       "errorPct": profiles.ERROR_PCT_MAX, "holdFraction": profiles.HOLD_FRACTION},
        }
        if args.gate:
            say(f"waiting {PUBLISH_SETTLE_S:.0f} s for the metrics publisher, then the gate")
            time.sleep(PUBLISH_SETTLE_S)
            window = gate_window(collected.get("measuredFrom"))
            summary["gate"] = run_gate(tgt, window)
            summary["gateWindowS"] = window
        summary["problems"] = verdict(profile, summary)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
        bucket, prefix, keys = store_report(tgt.env, run_dir, profile.name)

    print()
    print(table(summary))
    print()
    knee = summary["knee"]
    if knee is None:
        say("knee: no step held (accept p95 <= 250 ms, errors <= 1 %, >= 90 % of offered)")
    else:
        a, c = knee["accept"], knee["commitToClient"]
        say(f"knee: {knee['offeredRate']:.0f} req/s offered, {knee['achievedRate']:.1f} achieved; "
            f"accept p50/p95/p99 {_ms(a['p50'])}/{_ms(a['p95'])}/{_ms(a['p99'])} ms; "
            f"commit->client p50/p95/p99 {_ms(c['p50'])}/{_ms(c['p95'])}/{_ms(c['p99'])} ms")
    subs = summary["subscribers"]
    say(f"subscribers: {subs['messages']} messages ({subs['trades']} trades, {subs['books']} "
        f"book), {subs['gaps']} gap(s), {subs['disconnects']} disconnect(s)")
    if "gate" in summary:
        say(f"gate ({summary['gateWindowS']} s window): {json.dumps(summary['gate'])}")
    say(f"report: s3://{bucket}/{prefix}report.html")
    for key in keys:
        say(f"  stored s3://{bucket}/{key}")
    if tgt.started:
        say(f"the stack started for the run is gone, and its S3 with it; local copy: {run_dir}")
    elif args.keep or summary["problems"]:
        say(f"local copy: {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if summary["problems"]:
        for problem in summary["problems"]:
            say(f"FAIL: {problem}")
        return 1
    say("PASS")
    return 0
