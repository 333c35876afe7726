# Build the wheel in one stage, run it as a non-root user in the next.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lrs lrs
COPY statements statements
COPY documents documents
COPY auth auth
COPY tenancy tenancy
COPY cmi5 cmi5
COPY analytics analytics
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 lrs
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER lrs
WORKDIR /home/lrs
ENV LRS_ENVIRONMENT=production \
    LRS_DATABASE_URL=sqlite+aiosqlite:////home/lrs/lrs.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
ENTRYPOINT ["lrs", "serve", "--host", "0.0.0.0", "--port", "8000"]
