# fugong: build the release binary, then run `fugong serve` as a non-root user in a slim image.
#
#   docker build -t fugong .
#   docker run -d --name fugong -v fugong-data:/var/lib/fugong -e FUGONG_TOKEN=... fugong
#
# Job files live in /etc/fugong/jobs (mount your own over it); their `output` and inbox paths should
# point under /var/lib/fugong, the data volume. A job publishing Delta Lake tables to S3
# (`output = "s3://…"`, `table_format = "delta"`) needs no volume for its tables: pass the store's
# credentials as -e AWS_ACCESS_KEY_ID=… -e AWS_SECRET_ACCESS_KEY=… (never in the job file). The image is
# the one binary; object storage and Delta Lake are compiled in (rustls, no OpenSSL).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so that code changes do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY schemas ./schemas
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin fugong

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/fugong --create-home fugong
COPY --from=build /src/target/release/fugong /usr/local/bin/fugong
COPY jobs /etc/fugong/jobs
COPY schemas /etc/fugong/schemas
COPY example /etc/fugong/example
# The shipped example job writes into the data volume.
RUN sed -i -e 's|^output = .*|output = "/var/lib/fugong/warehouse"|' \
           -e 's|path = "../example/|path = "/etc/fugong/example/|' /etc/fugong/jobs/example.toml
USER fugong
WORKDIR /var/lib/fugong
VOLUME ["/var/lib/fugong"]
# /healthz and /metrics stay on loopback inside the container (see README: "Running as a service").
HEALTHCHECK --interval=60s --timeout=5s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9187 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
# The intake portal: plain HTTP on the container's port 8080; publish it on the host's loopback and put
# a TLS-terminating reverse proxy in front (README: "The intake portal"), or add --tls-cert/--tls-key.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fugong"]
CMD ["serve", "--jobs", "/etc/fugong/jobs", "--listen", "0.0.0.0:8080", "--log-format", "json", "--log", "info"]
