# Caddy with Signet, built from this checkout with the official images
# (see "Docker" in README.md):
#
#   docker build -f xcaddy.Dockerfile -t caddy-signet .
#
# CADDY_VERSION is the github.com/caddyserver/caddy/v2 version in go.mod
# (tests/dockerfile_test.go checks this file against the repository).
ARG CADDY_VERSION=2.11.9

FROM caddy:${CADDY_VERSION}-builder AS builder
# go.mod may ask for a newer Go than the builder image has; let Go fetch it.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum plugin.go ./
COPY caddymodule/ caddymodule/
COPY keystore/ keystore/
COPY verifier/ verifier/
COPY rules/ rules/
RUN xcaddy build --with github.com/caddy-signet/signet=./ --output /usr/bin/caddy

# The official image unchanged (user, /data, /config, /etc/caddy/Caddyfile,
# ports, command), with Signet's caddy in place of its own.
FROM caddy:${CADDY_VERSION}
COPY --from=builder /usr/bin/caddy /usr/bin/caddy
