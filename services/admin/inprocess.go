package admin

import (
	"bytes"
	"io"
	"net/http"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/gen/go/llmgw/admin/v1/adminv1connect"
)

// inProcess returns an Admin API client that serves each call with s's own Connect handler
// behind s.Authorize, in the calling goroutine's process and without a socket. A call runs
// as the principal in its context (the caller of the RPC that makes it), so it is allowed,
// refused and audited exactly as that caller's own call would be.
func inProcess(s *Service) adminv1connect.AdminServiceClient {
	_, h := adminv1connect.NewAdminServiceHandler(s, connect.WithInterceptors(s.Authorize()))
	return adminv1connect.NewAdminServiceClient(handlerDoer{h}, "http://in-process")
}

// handlerDoer is a connect.HTTPClient that answers a request with a handler.
type handlerDoer struct{ h http.Handler }

func (d handlerDoer) Do(req *http.Request) (*http.Response, error) {
	rw := &responseBuffer{header: http.Header{}}
	d.h.ServeHTTP(rw, req)
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(rw.status), StatusCode: rw.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.header, Body: io.NopCloser(&rw.body), ContentLength: int64(rw.body.Len()), Request: req,
	}, nil
}

// responseBuffer is an http.ResponseWriter that keeps the whole response in memory: the
// Admin API's calls are unary and their answers small.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseBuffer) Header() http.Header { return r.header }

func (r *responseBuffer) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *responseBuffer) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
