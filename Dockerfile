# graphql_app: a slim image running one instance. Not built on the development
# machines (no container engine there): see README "Deploying" for what was run where.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The versions the test suite ran (constraints.txt), the runtime dependencies only.
COPY pyproject.toml constraints.txt README.md ./
COPY graphql_app ./graphql_app
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --no-create-home graphql_app

USER graphql_app
ENV ENVIRONMENT=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# The container's own interface, so that the proxy on the compose network reaches it.
CMD ["python", "-m", "graphql_app", "serve", "--host", "0.0.0.0", "--port", "8000"]
