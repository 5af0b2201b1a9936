# goldsmith as a container action: a static (musl) binary on an image with
# bash and the Azure CLI. tini is PID 1: it reaps orphaned processes and
# forwards signals to goldsmith, which forwards them to the operations.
#
# Base images are pinned by digest (the multi-arch index of the tag named
# beside it) and the Azure CLI with its dependencies by version and hash, so a
# rebuild of a release gets the same bits; Dependabot (.github/dependabot.yml)
# proposes newer digests.
# tools/smoke/smoke.sh checks a built image the way the runner uses it.

FROM rust:1.95-slim-bookworm@sha256:b8ecdb97c5b9c1ae058249f72710dbe33d4da19f7b8d911bd3c72e5f048af251 AS build
# The release's SBOM (BuildKit's scanner) also reads this stage: the Rust
# crates compiled into goldsmith are listed from Cargo.lock.
ARG BUILDKIT_SBOM_SCAN_STAGE=true
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

FROM python:3.12-slim-bookworm@sha256:0f5b26b9518d002b6173fd61daad821fa340635ebfec5bba471013f9ca114579
# The Azure CLI from the lock the tests use (tools/az-spec/requirements.txt):
# azure-cli 2.91.0 and each dependency at one version, checked by hash.
# No CLI extension: the AVD operations call the DesktopVirtualization REST API
# through `az rest`; az is told never to install or prompt for one on its own.
COPY tools/az-spec/requirements.txt /tmp/azure-cli.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && pip install --no-cache-dir --require-hashes -r /tmp/azure-cli.txt \
 && rm /tmp/azure-cli.txt \
 && az config set core.collect_telemetry=false --only-show-errors
# goldsmith-supervise beside goldsmith: the small supervisor each operation runs under.
COPY --from=build /out/goldsmith /out/goldsmith-supervise /usr/local/bin/
ENV AZURE_CORE_COLLECT_TELEMETRY=false \
    AZURE_EXTENSION_USE_DYNAMIC_INSTALL=no \
    AZURE_EXTENSION_RUN_AFTER_DYNAMIC_INSTALL=false
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/goldsmith", "action"]
