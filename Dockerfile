# Builds the llmgw binary into a small image. `docker compose up` uses it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/llmgw ./cmd/llmgw

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/llmgw /usr/local/bin/llmgw
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/llmgw"]
CMD ["serve"]
