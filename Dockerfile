# The app, served by Streamlit on port 8501 (the default command), or the REST API on port 8000:
#   docker run -p 8000:8000 vision python -m core serve --host 0.0.0.0 --port 8000
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# curl for the health check; libgl/glib are what OpenCV's wheels link against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl libglib2.0-0 libgl1 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 app
WORKDIR /home/app/project

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app . .
USER app

# Mount pre-downloaded weights here (docker run -v ~/weights:/weights:ro) to start offline;
# without them the frameworks download their weights on first use.
ENV VISION_WEIGHTS_DIR=/weights
EXPOSE 8501 8000
# Healthy when whichever server this container runs answers: the app, or the API once its models are loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl --fail --silent http://localhost:8501/_stcore/health \
        || curl --fail --silent http://localhost:8000/v2/health/ready || exit 1

CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
