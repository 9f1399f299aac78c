# One image for every service: `bank serve auth`, `bank serve account`, …,
# `bank migrate` (the Deployments and the Job in deploy/k8s pass the command).
# curl and jq are inside because the runbook runs them in the pod (4.1).
#
#   docker build --build-arg VERSION=v1.0.0 -t ghcr.io/fintech-banking/bank:v1.0.0 .
#
# deploy/dockerfile_test.go runs this file's go build and checks its stages.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo: SQLite is pure Go), paths trimmed from the binary.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/bank ./cmd/bank

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl jq \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 bank \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bank
COPY --from=build /out/bank /usr/local/bin/bank
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
ENV BANK_HTTP_ADDR=:8080
ENTRYPOINT ["/usr/local/bin/bank"]
CMD ["serve", "all"]
