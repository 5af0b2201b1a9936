# syntax=docker/dockerfile:1
# goldsmith as a container action: a static (musl) binary on an image with
# bash and the Azure CLI. tini is PID 1: it reaps orphaned processes and
# forwards signals to goldsmith, which forwards them to the operations.

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=musl-gcc
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
RUN cargo build --release --locked --package goldsmith --target x86_64-unknown-linux-musl \
 && mkdir /out \
 && cp target/x86_64-unknown-linux-musl/release/goldsmith target/x86_64-unknown-linux-musl/release/goldsmith-supervise /out/

FROM python:3.12-slim-bookworm
ARG AZURE_CLI_VERSION=2.91.0
# No CLI extension: the AVD operations call the DesktopVirtualization REST API
# through `az rest`; az is told never to install or prompt for one on its own.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir "azure-cli==${AZURE_CLI_VERSION}" \
 && az config set core.collect_telemetry=false --only-show-errors
# goldsmith-supervise beside goldsmith: the small supervisor each operation runs under.
COPY --from=build /out/goldsmith /out/goldsmith-supervise /usr/local/bin/
ENV AZURE_CORE_COLLECT_TELEMETRY=false \
    AZURE_EXTENSION_USE_DYNAMIC_INSTALL=no \
    AZURE_EXTENSION_RUN_AFTER_DYNAMIC_INSTALL=false
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/goldsmith", "action"]
