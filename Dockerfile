# syntax=docker/dockerfile:1
# TulipBroker's image (docs/deploy.md, "The image"). The CDK app builds it from this file at deploy
# time (deploy/stacks/region.py); nothing here needs Docker to synthesize. Stages:
#   service  (the default) the processes of the README's "Pointing it at real AWS", picked by the
#            first argument: web | worker | matcher | projector | metrics | migrate
#   gate     the pipeline gate's assertion Lambda (deploy/lambdas/gate_handler.py)
#   load     the smoke load for the pipeline gate (`python -m bench.load --profile smoke`)
# Pinned: the base image by exact tag, every Python package by requirements + constraints.txt.
FROM python:3.11.14-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TULIP_STATE_DIR=/tmp/tulip \
    PROMETHEUS_MULTIPROC_DIR=/tmp/tulip-metrics
RUN groupadd --system --gid 10001 tulip \
 && useradd --system --uid 10001 --gid tulip --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin tulip
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-compile -r requirements.txt -c constraints.txt
COPY manage.py ./
COPY tulip ./tulip
COPY orders ./orders
COPY matching ./matching
COPY realtime ./realtime
COPY ops ./ops
COPY deploy/__init__.py ./deploy/__init__.py
COPY deploy/container ./deploy/container
COPY deploy/lambdas ./deploy/lambdas
RUN mkdir -p /tmp/tulip /tmp/tulip-metrics \
 && chown tulip:tulip /tmp/tulip /tmp/tulip-metrics
USER tulip
ENTRYPOINT ["python", "-m", "deploy.container.start"]

FROM base AS gate
USER root
RUN pip install --no-compile -r deploy/lambdas/requirements.txt -c constraints.txt
USER tulip
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["deploy.lambdas.gate_handler.handler"]

FROM base AS load
USER root
# The load profiles (bench/load) and Locust alone: the engine benchmarks' peers stay out.
COPY requirements-load.txt ./
RUN pip install --no-compile -r requirements-load.txt -c constraints.txt
COPY bench/__init__.py ./bench/__init__.py
COPY bench/load ./bench/load
USER tulip
CMD ["python", "-m", "bench.load", "--profile", "smoke"]

FROM base AS service
EXPOSE 8000
CMD ["web"]
