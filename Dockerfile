# nudge's image. The dependencies compile in a layer of their own (cargo-chef
# cooks them from a recipe of Cargo.toml and Cargo.lock), so an edit to nudge's
# code rebuilds nudge only; the image runs as an unprivileged user.
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=plan /src/recipe.json recipe.json
# The bundled SQLite's compile options (`.cargo/config.toml`) apply to the cook too.
COPY .cargo .cargo
# Rebuilt only when the recipe (the manifests and the lock file) changes.
RUN cargo chef cook --release --locked --bin nudge --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin nudge

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 nudge \
    && useradd --system --uid 10001 --gid nudge --home-dir /var/lib/nudge --create-home --shell /usr/sbin/nologin nudge
COPY --from=build /src/target/release/nudge /usr/local/bin/nudge
# The container's commands (bootstrap, serve, healthcheck): the same script CI runs.
COPY deploy/docker/entrypoint.sh /usr/local/bin/nudge-entrypoint
USER 10001:10001
WORKDIR /var/lib/nudge
# SQLite's home (./data) when no PostgreSQL URL is given; on PostgreSQL it stays empty.
VOLUME /var/lib/nudge
EXPOSE 8080
ENV NUDGE_LISTEN=0.0.0.0:8080
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 CMD ["nudge-entrypoint", "healthcheck"]
ENTRYPOINT ["nudge-entrypoint"]
CMD ["serve"]
