# The ModelDB image: the CLI, the stream processor, the dashboard and the MLflow-compatible server.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY modeldb ./modeldb
COPY core ./core
COPY schemas ./schemas
COPY producers ./producers
COPY stream_processors ./stream_processors
COPY warehouse ./warehouse
COPY dashboard ./dashboard
COPY cli ./cli
COPY devtools ./devtools
COPY server ./server
RUN pip install --no-cache-dir --no-deps . && useradd --create-home modeldb
USER modeldb
ENV MODELDB_HOME=/home/modeldb/.modeldb
ENTRYPOINT ["modeldb"]
CMD ["--help"]
