# One container: the Streamlit server plus its worker processes (the trainer pool).
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<PyTorch's CPU wheel index> -t playground .
#   docker run -p 8501:8501 playground
# Without the CPU wheel index, pip resolves torch to the CUDA build (several GB).
# Kubernetes manifests for this image: deploy/k8s/.
FROM python:3.11-slim

ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}

# tini runs as PID 1: it passes signals on to the server and reaps orphans (a
# trainer whose parent, the forkserver, has exited is re-parented to PID 1,
# which would otherwise leave it a zombie).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 playground
WORKDIR /app

COPY pyproject.toml README.md app.py ./
COPY .streamlit ./.streamlit
COPY playground ./playground
RUN pip install "torch==2.13.0" && pip install .

USER playground
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"
ENTRYPOINT ["tini", "--"]
CMD ["streamlit", "run", "app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
