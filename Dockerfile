# weatherd container image.
#
#   docker build -t weatherd:dev --build-arg VERSION=$(git describe --tags --always) \
#       --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run --rm -p 9108:9108 weatherd:dev
#
# The build stage compiles a static binary (no cgo), so the final image needs
# nothing but CA certificates and time zone data, which distroless/static has.

FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first: this layer is reused until go.mod or go.sum change. It is
# `go mod download` of every module go.mod requires except DuckDB's bindings
# (cgo, test-only, ~150 MB): the static binary never links them.
COPY go.mod go.sum ./
RUN awk '/^require \(/ {r=1; next} r && /^\)/ {r=0; next} \
         r && NF >= 2 && $1 !~ "^//" {print $1 "@" $2} \
         /^require [^(]/ {print $2 "@" $3}' go.mod \
    | grep -v '^github.com/duckdb/' \
    | xargs go mod download

COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# Set by BuildKit for `docker buildx build --platform ...`; empty means the
# builder's own architecture.
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/weatherd ./cmd/weatherd \
 && mkdir -p /out/home/spool

# distroless/static: CA certificates, /usr/share/zoneinfo, /etc/passwd with
# nonroot (65532), no shell. The nonroot tag runs as 65532 by default.
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="weatherd" \
      org.opencontainers.image.description="Weather alerting and analytics daemon (Kinesis, DynamoDB, SNS, S3)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

COPY --from=build /out/weatherd /weatherd
COPY config.yaml /etc/weatherd/config.yaml
# The production configuration deploy/ecs/task-definition.json runs with.
COPY deploy/ecs/weatherd.yaml /etc/weatherd/ecs.yaml
# The default lake is file://./lake and the producer's spool ./spool: the
# working directory must be writable by the nonroot user (mount a volume here
# to keep the lake). spool/ exists in the image, owned by 65532, so a named
# volume mounted on it starts with that owner (docker-compose.yml does).
COPY --from=build --chown=65532:65532 /out/home/ /var/lib/weatherd/
WORKDIR /var/lib/weatherd

USER 65532:65532
EXPOSE 9108

# No shell or curl in the image: the binary asks its own /healthz, on the
# port http.listen of this config (and WEATHERD_HTTP_LISTEN) names.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/weatherd", "healthcheck", "--config", "/etc/weatherd/config.yaml"]

ENTRYPOINT ["/weatherd"]
CMD ["run", "--config", "/etc/weatherd/config.yaml"]
