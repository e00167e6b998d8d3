# syntax=docker/dockerfile:1
# The meshctl image for those who build with Docker (or Podman/Buildah):
#
#   docker build -t meshctl:dev \
#     --build-arg VERSION=$(cargo metadata --no-deps --format-version 1 | jq -r '.packages[] | select(.name == "meshctl") | .version') \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u -d @$(git log -1 --format=%ct) +%Y-%m-%dT%H:%M:%SZ) .
#
# The project itself builds the image without a daemon (scripts/image.sh build, docs/install.md). Both
# put the same files in the image: the final stage is only the root filesystem that
# `scripts/image.sh rootfs` assembles (the release binary, the shared objects ldd names, CA
# certificates, passwd/group with user 65532, no shell), and the same user, entrypoint, environment and
# labels; tests/image_files.rs fails when the two differ. Image digests differ all the same: the
# toolchain image, the build paths inside the binary and Docker's layer metadata are not the project's.

ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# build.rs stamps the commit (and its date) from .git when the context holds it, else from REVISION.
ARG REVISION=""
RUN if [ -n "$REVISION" ] && [ ! -d .git ]; then export MESHCTL_GIT_COMMIT="$(printf %.12s "$REVISION")"; fi \
 && cargo build --release --locked \
 && scripts/image.sh rootfs /rootfs target/release/meshctl

FROM scratch
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /
USER 65532:65532
LABEL org.opencontainers.image.title="meshctl" \
      org.opencontainers.image.description="meshctl: the management server and the agent of the meshctl platform (one image, both roles)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/meshctl/meshctl" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/usr/local/bin/meshctl"]
