# chift-mcp, the streamable HTTP door:
#   docker build -t chift-mcp .                              (add --build-arg SEARCH=true for docs search)
#   docker run -p 8000:8000 -e CHIFT_MCP_TOKEN=... -e CHIFT_CLIENT_ID=... -e CHIFT_CLIENT_SECRET=... \
#              -e CHIFT_ACCOUNT_ID=... chift-mcp
# See the README's "Remote deployment" section.

FROM python:3.11-slim AS build
ARG SEARCH=false
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
# The search extra needs no torch (its default model runs in NumPy).
RUN if [ "$SEARCH" = "true" ]; then \
        pip install ".[search]"; \
    else \
        pip install .; \
    fi

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
COPY configs /opt/chift-mcp/configs
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER app
WORKDIR /home/app
# Build the tool specs once now, so every container starts from the cache.
RUN chift-mcp tools > /dev/null
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["chift-mcp", "http", "--host", "0.0.0.0"]
