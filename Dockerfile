# fugong: build the release binary, then ship it with the job and schema files in a slim image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
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
USER fugong
WORKDIR /var/lib/fugong
VOLUME ["/var/lib/fugong"]
ENTRYPOINT ["/usr/local/bin/fugong"]
CMD ["--help"]
