# Production image for every fcplan service (worker, retrainer, dashboard):
#   docker build -t fcplan .        then        docker compose up -d
#
# Built on a machine that can reach PyPI and download.pytorch.org. torch is
# installed first, alone, from the CPU-only index: from PyPI the same pin would
# pull gigabytes of CUDA libraries that a CPU-only planner never uses. The pin
# must match pyproject.toml (torch==2.13.0) so that `pip install .` afterwards
# finds it satisfied and leaves it alone.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1

# libgomp1: LightGBM's OpenMP runtime (the slim image lacks it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

ARG TORCH_VERSION=2.13.0
RUN pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY . .
RUN pip install . && rm -rf /src/build

# Non-root; the home folder is writable for the worker's local state
# (fcplan-worker-data/) and Streamlit's settings.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin fcplan \
    && cp -r /src/.streamlit /home/fcplan/.streamlit \
    && chown -R fcplan:fcplan /home/fcplan
USER fcplan
WORKDIR /home/fcplan

EXPOSE 8501
ENTRYPOINT ["fcplan"]
CMD ["--help"]
