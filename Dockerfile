# switchboard's container image: build with the Rust toolchain the
# workspace pins, run from a small image as a non-root user.
#
#   docker build -t switchboard .
#   docker run --rm -p 8080:8080 switchboard
#
# tests/node/deploy.test.mjs runs this file's COPY, RUN and runtime
# commands without a container engine (CI has none): keep each RUN a plain
# shell command, relative to the WORKDIR, so that it can.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Only what the build reads: the workspace, its lockfile, and the pages
# the server embeds (rust-embed reads web/ at compile time).
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY web ./web
RUN cargo build --release --locked -p switchboard-server

# distroless cc: glibc and libgcc (all the binary links to) and no shell,
# no package manager; its `nonroot` user is uid and gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/target/release/switchboard /usr/local/bin/switchboard
USER 65532:65532
# Inside a container the server must listen on every interface; /metrics
# goes on its own port for Prometheus (publish it only to the monitoring
# network). Mount a config file and set SWITCHBOARD_CONFIG to use one.
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080 \
    SWITCHBOARD_METRICS_LISTEN=0.0.0.0:9090
EXPOSE 8080 9090
# No curl in the image: the binary probes itself (plain http only; with
# --tls-cert, override this check).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/switchboard", "probe", "http://127.0.0.1:8080/healthz"]
# SIGTERM (docker stop) stops the server gracefully.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
