# unigate: build with `docker build -t unigate .`, run with
#   docker run -p 8080:8080 -v unigate-data:/data unigate
# Keys: docker run --rm -v unigate-data:/data unigate keys create --name me
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY proxy ./proxy
COPY adapters ./adapters
COPY schemas ./schemas
RUN python -m venv /opt/unigate \
 && /opt/unigate/bin/pip install --no-cache-dir -r requirements.lock \
 && /opt/unigate/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 unigate && mkdir /data && chown unigate /data
COPY --from=build /opt/unigate /opt/unigate
COPY config.toml /etc/unigate/config.toml
ENV PATH=/opt/unigate/bin:$PATH \
    UNIGATE_CONFIG=/etc/unigate/config.toml \
    UNIGATE_DATABASE_URL=sqlite:////data/unigate.db \
    PYTHONUNBUFFERED=1
USER unigate
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
ENTRYPOINT ["unigate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
