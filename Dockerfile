# One container: the Streamlit server plus its worker processes (the trainer pool).
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<PyTorch's CPU wheel index> -t playground .
#   docker run -p 8501:8501 playground
# Without the CPU wheel index, pip resolves torch to the CUDA build (several GB).
# Kubernetes manifests for this image: deploy/k8s/. `make test` lints this file with
# hadolint. The Debian release is named, so the pinned tini below stays installable.
FROM python:3.11-slim-bookworm

ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}

# tini runs as PID 1: it passes signals on to the server and reaps any orphan. (A
# trainer whose parent, the forkserver, has exited is adopted by the server itself,
# which then reaps it: playground/server/pool.py.)
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 playground \
    && useradd --create-home --uid 10001 --gid 10001 playground
WORKDIR /app

COPY pyproject.toml README.md app.py ./
COPY .streamlit ./.streamlit
COPY playground ./playground
RUN pip install "torch==2.13.0" && pip install .

# numeric, so a runtime can check it is not root without the image's /etc/passwd
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"]
ENTRYPOINT ["tini", "--"]
# `streamlit run app.py` with the HTTP server's header and keep-alive timeouts (cli.py)
CMD ["python", "-m", "playground", "serve", "--server.port", "8501", "--server.address", "0.0.0.0"]
