// Package inference is the Connect handler of llmgw.inference.v1.InferenceService: the typed
// gRPC, Connect and gRPC-Web face of the same pipeline the OpenAI surface uses.
package inference

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/edge"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
	"github.com/llmgw/llmgw/gen/go/llmgw/inference/v1/inferencev1connect"
)

// Service implements InferenceService. It is safe for concurrent use.
type Service struct {
	p      *pipeline.Pipeline
	logger *slog.Logger
}

var _ inferencev1connect.InferenceServiceHandler = (*Service)(nil)

// New returns the service.
func New(p *pipeline.Pipeline, logger *slog.Logger) *Service {
	return &Service{p: p, logger: logger}
}

// admit returns the caller the server's edge admitted before reading the body, or admits one
// from the request's headers when the service runs without that edge. The guards' response
// headers go out as the call's response headers.
func (s *Service) admit(ctx context.Context) (*pipeline.Caller, error) {
	ci, _ := connect.CallInfoForHandlerContext(ctx)
	if c := pipeline.CallerFrom(ctx); c != nil {
		if ci != nil {
			c.Header = ci.ResponseHeader()
		}
		return c, nil
	}
	var h http.Header
	if ci != nil {
		h = ci.RequestHeader()
	} else {
		h = http.Header{}
	}
	er := edge.FromContext(ctx)
	if er == nil {
		er = edge.NewRequest(h, edge.SurfaceConnect, time.Now())
	}
	c, err := s.p.AdmitEdge(er, edge.Secret(h))
	if err != nil {
		return nil, s.error(ctx, err)
	}
	if ci != nil {
		c.Header = ci.ResponseHeader()
	}
	return c, nil
}

// error logs an internal cause once, notes the error for the request's record and renders
// the public error.
func (s *Service) error(ctx context.Context, err error) error {
	e := apierr.From(err)
	if er := edge.FromContext(ctx); er != nil {
		er.Failed(e)
	}
	if e.Kind == apierr.KindInternal && e.Cause != nil {
		s.logger.ErrorContext(ctx, "internal error", "error", e.Cause)
	}
	return apierr.ConnectError(e)
}

// ChatCompletion implements InferenceService.
func (s *Service) ChatCompletion(ctx context.Context, req *inferencev1.ChatCompletionRequest) (*inferencev1.ChatCompletionResponse, error) {
	c, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	r, err := requestFromProto(req)
	if err != nil {
		return nil, s.error(ctx, err)
	}
	res, err := s.p.Chat(ctx, c, &provider.ChatCall{Request: r})
	if err != nil {
		return nil, s.error(ctx, err)
	}
	var out chat.Response
	if err := json.Unmarshal(res.JSON, &out); err != nil {
		return nil, s.error(ctx, provider.BadResponse(err))
	}
	return responseToProto(&out), nil
}

// StreamChatCompletion implements InferenceService.
func (s *Service) StreamChatCompletion(ctx context.Context, req *inferencev1.StreamChatCompletionRequest, out *connect.ServerStream[inferencev1.StreamChatCompletionResponse]) error {
	c, err := s.admit(ctx)
	if err != nil {
		return err
	}
	if req.GetRequest() == nil {
		return s.error(ctx, apierr.Invalid("request", "request is required"))
	}
	r, err := requestFromProto(req.GetRequest())
	if err != nil {
		return s.error(ctx, err)
	}
	r.Stream = true
	if req.GetIncludeUsage() {
		r.StreamOptions = &chat.StreamOptions{IncludeUsage: true}
	}
	st, err := s.p.ChatStream(ctx, c, &provider.ChatCall{Request: r})
	if err != nil {
		return s.error(ctx, err)
	}
	defer st.Close()
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.error(ctx, err)
		}
		if ch.UsageOnly && !req.GetIncludeUsage() {
			continue
		}
		var chunk chat.Chunk
		if err := json.Unmarshal(ch.JSON, &chunk); err != nil {
			bad := provider.BadResponse(err)
			pipeline.Fail(st, bad) // recorded as the upstream's bad answer, not as the client leaving
			return s.error(ctx, bad)
		}
		if err := out.Send(chunkToProto(&chunk)); err != nil {
			return err // client gone
		}
	}
}

// Embed implements InferenceService.
func (s *Service) Embed(ctx context.Context, req *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error) {
	c, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	r := &chat.EmbeddingRequest{Model: req.GetModel(), Input: req.GetInput(), User: req.GetUser(), EncodingFormat: "float"}
	if req.Dimensions != nil {
		d := int64(req.GetDimensions())
		r.Dimensions = &d
	}
	if err := r.Validate(); err != nil {
		return nil, s.error(ctx, err)
	}
	res, err := s.p.Embed(ctx, c, &provider.EmbedCall{Request: r})
	if err != nil {
		return nil, s.error(ctx, err)
	}
	var er chat.EmbeddingResponse
	if err := json.Unmarshal(res.JSON, &er); err != nil {
		return nil, s.error(ctx, provider.BadResponse(err))
	}
	resp := &inferencev1.EmbedResponse{Model: er.Model, Usage: usageToProto(er.Usage)}
	for _, e := range er.Data {
		resp.Embeddings = append(resp.Embeddings, &inferencev1.Embedding{Index: int32(e.Index), Vector: e.Embedding})
	}
	return resp, nil
}

// ListModels implements InferenceService.
func (s *Service) ListModels(ctx context.Context, _ *inferencev1.ListModelsRequest) (*inferencev1.ListModelsResponse, error) {
	c, err := s.admit(ctx)
	if err != nil {
		return nil, err
	}
	resp := &inferencev1.ListModelsResponse{}
	for _, m := range s.p.Models(c) {
		resp.Models = append(resp.Models, &inferencev1.ModelInfo{Id: m.FQN, OwnedBy: m.Account, Types: m.Types})
	}
	return resp, nil
}
