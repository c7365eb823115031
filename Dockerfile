# Builds llmgw into small images. The default (last) stage is the full llmgw, which `docker
# compose up` uses for the control plane, the migrations and the consumer; the `gateway` stage
# (docker build --target gateway) is the gateway-only build (the llmgw_gateway_only and
# grpcnotrace tags: the Makefile's GATEWAY_TAGS), what the gateway replicas run: inference only,
# a third of the binary and of the resident memory.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/llmgw ./cmd/llmgw

FROM build AS build-gateway
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -tags llmgw_gateway_only,grpcnotrace -o /out/llmgw-gateway ./cmd/llmgw

FROM gcr.io/distroless/static-debian12:nonroot AS gateway
COPY --from=build-gateway /out/llmgw-gateway /usr/local/bin/llmgw
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/llmgw"]
CMD ["serve", "--role", "gateway"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/llmgw /usr/local/bin/llmgw
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/llmgw"]
CMD ["serve"]
