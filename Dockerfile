# Production image: slim, non-root, with a health check. Needs VOUCHERS_REDIS_URL.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY lua ./lua
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv vouchers \
    && mkdir -p /srv/data && chown vouchers /srv/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER vouchers
WORKDIR /srv
ENV VOUCHERS_HOST=0.0.0.0 \
    VOUCHERS_PORT=8080 \
    VOUCHERS_DATA_DIR=/srv/data \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=1).status == 200 else 1)"]
CMD ["vouchers", "serve"]
