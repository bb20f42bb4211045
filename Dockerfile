# syntax=docker/dockerfile:1
# The app (Streamlit on port 8501) by default, or the REST API on port 8000:
#   docker build -t vision .
#   docker run --init -p 8501:8501 -v ~/weights:/weights:ro vision
#   docker run --init -p 8000:8000 -v ~/weights:/weights:ro vision python -m core serve --host 0.0.0.0 --port 8000
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# One layer: the environment, without the tests' packages (Playwright alone brings a 165 MB driver).
# pip's cache is a build cache mount, so a rebuild downloads nothing it has seen and the image never
# holds the cache. No compiler is installed: every requirement comes as a wheel.
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/venv \
    && pip install -r /tmp/requirements.txt \
    && pip uninstall --yes --quiet playwright pytest \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

RUN useradd --create-home --uid 1000 app
WORKDIR /home/app/project
COPY --chown=app:app . .
USER app

# Mount weights here read-only to start offline; without them the frameworks download what they
# need on first use when the container can reach the internet, and each page or the API's
# /v2/health/ready says which model has no weights when it cannot.
ENV VISION_WEIGHTS_DIR=/weights
EXPOSE 8501 8000
# Healthy when whichever server the container runs answers: the app, or the API once its models are loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["python", "-c", "import sys, urllib.request as request\nfor url in ('http://127.0.0.1:8501/_stcore/health', 'http://127.0.0.1:8000/v2/health/ready'):\n    try:\n        request.urlopen(url, timeout=4)\n        sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)"]
LABEL org.opencontainers.image.title="vision-side-by-side" \
      org.opencontainers.image.description="Image classifiers and detectors side by side, with explanations: a Streamlit app and a REST API" \
      org.opencontainers.image.base.name="python:3.11-slim"

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
