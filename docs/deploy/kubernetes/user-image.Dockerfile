# Users' image: the client only, from the service's own package index (no login).
FROM quay.io/jupyter/scipy-notebook:latest
RUN pip install --no-cache-dir --index-url https://hub.example.org/services/fsspec-proxy/fsspec-proxy/client/simple/ fsspec-proxy-client
