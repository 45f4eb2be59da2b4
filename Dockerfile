# Builds the nudge binary and runs it on a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nudge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/nudge /usr/local/bin/nudge
WORKDIR /var/lib/nudge
EXPOSE 8080
ENV NUDGE_LISTEN=0.0.0.0:8080
ENTRYPOINT ["nudge"]
CMD ["serve"]
