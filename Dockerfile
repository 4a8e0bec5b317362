# Parley in a container: a static binary on distroless, running as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t parley .
#   docker run -d --name parley --network host \
#     -v /etc/parley:/etc/parley:ro -v parley-state:/var/lib/parley \
#     parley --config /etc/parley/parley.yaml
#
# Host networking is the recommended way to run it: the SFU's UDP port, the
# TURN server and its relay port range (thousands of UDP ports) must be
# reachable on the host's own addresses, and the SFU/TURN must see and
# advertise those addresses. With a bridge network, publish every port
# below and set sfu.public_ips and turn.public_ip to the host's public IP.
# docs/install.md, "Docker", has the details.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The browser's MLS library, pinned and integrity-checked by npm ci
# (web/vendor/README.md); go:embed then takes it into the binary.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null \
 && scripts/vendor-web.sh
ARG VERSION=dev
# CGO off: a static binary that needs no libc in the final image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/parley ./cmd/parley \
 && /out/parley version

# distroless/static: CA certificates (ACME needs them), tzdata, a nonroot
# user (65532) and nothing else — no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/parley /usr/local/bin/parley
USER nonroot:nonroot
# The ACME cache (tls.acme_cache_dir: /var/lib/parley/acme) lives here.
VOLUME ["/var/lib/parley"]
ENV PARLEY_LOG_FORMAT=json
# Ports (defaults; change them in the config):
#   8080/tcp        web client, /ws, /healthz, /readyz (http; 8443 or 443 with TLS)
#   7882/udp        SFU media (sfu.udp_port)
#   3478/udp+tcp    embedded TURN (turn.listen)
#   5349/tcp        TURNS when turn.tls_listen is set
#   49152-65535/udp TURN relay ports (turn.relay_port_min/max)
#   9464/tcp        Prometheus /metrics (metrics.listen, loopback by default)
# A non-root user cannot bind ports below 1024 with host networking: use
# 8443 (and a port forward or a proxy), or see docs/install.md.
EXPOSE 8080/tcp 7882/udp 3478/udp 3478/tcp 5349/tcp 9464/tcp
ENTRYPOINT ["/usr/local/bin/parley"]
