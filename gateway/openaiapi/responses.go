package openaiapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/httpheader"
	"github.com/llmgw/llmgw/gateway/pipeline"
	"github.com/llmgw/llmgw/gateway/provider"
	"github.com/llmgw/llmgw/gateway/sse"
)

// The Responses API (POST /v1/responses) is served by translation through the chat pipeline,
// so every provider answers it. What a stateless gateway cannot do is refused with a 400 that
// names the field, never silently dropped: stored responses (store: true,
// previous_response_id), background mode, and hosted tools (web search, file search, ...).

// responsesRequest is the subset of a Responses API request the gateway serves. Decoding is
// strict: any other field is a 400 naming it.
type responsesRequest struct {
	Model              string            `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       string            `json:"instructions,omitempty"`
	Tools              []responsesTool   `json:"tools,omitempty"`
	ToolChoice         json.RawMessage   `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls,omitempty"`
	Stream             bool              `json:"stream,omitempty"`
	MaxOutputTokens    *int64            `json:"max_output_tokens,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
	TopP               *float64          `json:"top_p,omitempty"`
	User               string            `json:"user,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	Store              *bool             `json:"store,omitempty"`
	PreviousResponseID string            `json:"previous_response_id,omitempty"`
	Background         bool              `json:"background,omitempty"`
	Reasoning          *struct {
		Effort string `json:"effort,omitempty"`
	} `json:"reasoning,omitempty"`
	Text *struct {
		Format *struct {
			Type        string          `json:"type"`
			Name        string          `json:"name,omitempty"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema,omitempty"`
			Strict      *bool           `json:"strict,omitempty"`
		} `json:"format,omitempty"`
	} `json:"text,omitempty"`
}

type responsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// inputItem is one item of the input list: a message, a function call, or its output.
type inputItem struct {
	Type      string          `json:"type,omitempty"`
	Role      string          `json:"role,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Status    string          `json:"status,omitempty"`
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments string          `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
}

type inputPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// decodeResponsesRequest decodes strictly and translates to a chat request.
func decodeResponsesRequest(body []byte) (*responsesRequest, *chat.Request, error) {
	var rr responsesRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rr); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, nil, apierr.Invalid(typeErr.Field, "invalid type for %q: expected %s, got %s", typeErr.Field, chat.ExpectedType(typeErr.Type), typeErr.Value)
		}
		if field, ok := unknownField(err); ok {
			return nil, nil, apierr.Invalid(field, "%s is not supported by this gateway", field)
		}
		return nil, nil, apierr.Invalid("", "the request body is not a valid Responses API request")
	}
	switch {
	case rr.Model == "":
		return nil, nil, apierr.Invalid("model", "you must provide a model parameter")
	case len(bytes.TrimSpace(rr.Input)) == 0:
		return nil, nil, apierr.Invalid("input", "input is required")
	case rr.Store != nil && *rr.Store:
		return nil, nil, apierr.Invalid("store", "store: true is not supported: the gateway does not keep responses; send store: false")
	case rr.PreviousResponseID != "":
		return nil, nil, apierr.Invalid("previous_response_id", "previous_response_id is not supported: the gateway does not keep responses; send the conversation as input")
	case rr.Background:
		return nil, nil, apierr.Invalid("background", "background mode is not supported")
	}
	// OpenAI's own minimum; the translated request's other ranges are checked by Validate.
	if err := chat.IntIn("max_output_tokens", rr.MaxOutputTokens, 16, math.MaxInt64); err != nil {
		return nil, nil, err
	}
	r := &chat.Request{
		Model: rr.Model, Stream: rr.Stream, MaxCompletionTokens: rr.MaxOutputTokens, Temperature: rr.Temperature,
		TopP: rr.TopP, User: rr.User, Metadata: rr.Metadata, ParallelToolCalls: rr.ParallelToolCalls,
	}
	if rr.Reasoning != nil {
		r.ReasoningEffort = rr.Reasoning.Effort
	}
	if rr.Instructions != "" {
		r.Messages = append(r.Messages, chat.Message{Role: chat.RoleSystem, Content: chat.TextContent(rr.Instructions)})
	}
	msgs, err := inputMessages(rr.Input)
	if err != nil {
		return nil, nil, err
	}
	r.Messages = append(r.Messages, msgs...)
	for i, t := range rr.Tools {
		if t.Type != "function" {
			return nil, nil, apierr.Invalid(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported; only function tools are", t.Type)
		}
		r.Tools = append(r.Tools, chat.Tool{Type: "function", Function: chat.Function{Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}})
	}
	if len(rr.ToolChoice) > 0 {
		tc, err := toolChoice(rr.ToolChoice)
		if err != nil {
			return nil, nil, err
		}
		r.ToolChoice = tc
	}
	if rr.Text != nil && rr.Text.Format != nil {
		f := rr.Text.Format
		switch f.Type {
		case "text":
		case "json_object":
			r.ResponseFormat = &chat.ResponseFormat{Type: "json_object"}
		case "json_schema":
			r.ResponseFormat = &chat.ResponseFormat{Type: "json_schema", JSONSchema: &chat.JSONSchema{Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}}
		default:
			return nil, nil, apierr.Invalid("text.format.type", "unknown text format %q", f.Type)
		}
	}
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	return &rr, r, nil
}

// responsesParams maps the chat request's parameter names, which an adapter's refusal names,
// to the Responses API fields the client sent.
var responsesParams = map[string]string{
	"response_format":       "text.format",
	"max_completion_tokens": "max_output_tokens",
	"reasoning_effort":      "reasoning.effort",
}

// responsesError renames the parameter of an invalid-request error from its name in the
// translated chat request to the Responses field the client sent (response_format is
// text.format, tools[i].function.strict is tools[i].strict), in param and in a message that
// starts with it, so a refusal names a field the client knows. Other errors pass unchanged.
func responsesError(err error) error {
	var e *apierr.Error
	if !errors.As(err, &e) || e.Kind != apierr.KindInvalidRequest || e.Param == "" {
		return err
	}
	name, ok := responsesParams[e.Param]
	if i := strings.Index(e.Param, "].function."); !ok && strings.HasPrefix(e.Param, "tools[") && i > 0 {
		// Responses tools are all function tools (others are refused), so the indexes agree.
		name, ok = e.Param[:i+1]+"."+e.Param[i+len("].function."):], true
	}
	if !ok {
		return err
	}
	renamed := *e
	renamed.Param = name
	if rest, found := strings.CutPrefix(e.Message, e.Param); found {
		renamed.Message = name + rest
	}
	return &renamed
}

// unknownField extracts the field name of encoding/json's unknown-field error.
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix) : len(s)-1], true
	}
	return "", false
}

func toolChoice(raw json.RawMessage) (*chat.ToolChoice, error) {
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case "none", "auto", "required":
			return &chat.ToolChoice{Mode: mode}, nil
		}
		return nil, apierr.Invalid("tool_choice", "tool_choice %q is not supported", mode)
	}
	var obj struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Type != "function" || obj.Name == "" {
		return nil, apierr.Invalid("tool_choice", `tool_choice must be "none", "auto", "required" or {"type":"function","name":...}`)
	}
	return &chat.ToolChoice{Function: obj.Name}, nil
}

// inputMessages turns the input (a string or a list of items) into chat messages.
func inputMessages(raw json.RawMessage) ([]chat.Message, error) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return []chat.Message{{Role: chat.RoleUser, Content: chat.TextContent(text)}}, nil
	}
	var items []inputItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, apierr.Invalid("input", "input must be a string or a list of input items")
	}
	var out []chat.Message
	for i, it := range items {
		param := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "", "message":
			m, err := inputMessage(it, param)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case "function_call":
			if it.CallID == "" || it.Name == "" {
				return nil, apierr.Invalid(param, "a function_call item needs call_id and name")
			}
			tc := chat.ToolCall{ID: it.CallID, Type: "function", Function: chat.FunctionCall{Name: it.Name, Arguments: it.Arguments}}
			// Consecutive calls are one assistant turn with several tool calls.
			if n := len(out); n > 0 && out[n-1].Role == chat.RoleAssistant && len(out[n-1].ToolCalls) > 0 {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, tc)
			} else {
				out = append(out, chat.Message{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{tc}})
			}
		case "function_call_output":
			if it.CallID == "" {
				return nil, apierr.Invalid(param+".call_id", "a function_call_output item needs call_id")
			}
			var s string
			if json.Unmarshal(it.Output, &s) != nil {
				s = string(it.Output) // structured output: pass its JSON text
			}
			out = append(out, chat.Message{Role: chat.RoleTool, ToolCallID: it.CallID, Content: chat.TextContent(s)})
		default:
			return nil, apierr.Invalid(param+".type", "input item type %q is not supported", it.Type)
		}
	}
	return out, nil
}

func inputMessage(it inputItem, param string) (chat.Message, error) {
	switch it.Role {
	case chat.RoleUser, chat.RoleSystem, chat.RoleDeveloper, chat.RoleAssistant:
	default:
		return chat.Message{}, apierr.Invalid(param+".role", "unknown role %q", it.Role)
	}
	m := chat.Message{Role: it.Role}
	var s string
	if json.Unmarshal(it.Content, &s) == nil {
		m.Content = chat.TextContent(s)
		return m, nil
	}
	var parts []inputPart
	if err := json.Unmarshal(it.Content, &parts); err != nil {
		return chat.Message{}, apierr.Invalid(param+".content", "content must be a string or a list of content parts")
	}
	c := &chat.Content{Parts: []chat.Part{}}
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text":
			c.Parts = append(c.Parts, chat.Part{Type: chat.PartText, Text: p.Text})
		case "input_image":
			if p.ImageURL == "" {
				return chat.Message{}, apierr.Invalid(fmt.Sprintf("%s.content[%d].image_url", param, j), "only images by URL or data URL are supported")
			}
			c.Parts = append(c.Parts, chat.Part{Type: chat.PartImage, ImageURL: &chat.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
		default:
			return chat.Message{}, apierr.Invalid(fmt.Sprintf("%s.content[%d].type", param, j), "content part type %q is not supported", p.Type)
		}
	}
	m.Content = c
	return m, nil
}

// Output objects.

type responseObject struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	CreatedAt         int64             `json:"created_at"`
	Status            string            `json:"status"`
	Model             string            `json:"model"`
	Output            []json.RawMessage `json:"output"`
	Usage             *responseUsage    `json:"usage,omitempty"`
	IncompleteDetails *incomplete       `json:"incomplete_details"`
	Error             any               `json:"error"`
	Instructions      *string           `json:"instructions"`
	Metadata          map[string]string `json:"metadata"`
	ParallelToolCalls bool              `json:"parallel_tool_calls"`
	ToolChoice        any               `json:"tool_choice"`
	Tools             []responsesTool   `json:"tools"`
}

type incomplete struct {
	Reason string `json:"reason"`
}

type responseUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

type messageItem struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Status  string       `json:"status"`
	Role    string       `json:"role"`
	Content []outputPart `json:"content"`
}

type outputPart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

type functionCallItem struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Status    string `json:"status"`
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func toResponseUsage(u *chat.Usage) *responseUsage {
	if u == nil {
		return nil
	}
	out := &responseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	out.InputTokensDetails.CachedTokens = u.CachedTokens()
	out.OutputTokensDetails.ReasoningTokens = u.ReasoningTokens()
	return out
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v) // the gateway's own types always encode
	return b
}

// baseResponse is the response object before output and usage are known.
func baseResponse(rr *responsesRequest, model string) responseObject {
	o := responseObject{
		ID: newID("resp_"), Object: "response", CreatedAt: time.Now().Unix(), Status: "in_progress",
		Model: model, Output: []json.RawMessage{}, Metadata: rr.Metadata, ParallelToolCalls: true,
		ToolChoice: "auto", Tools: rr.Tools,
	}
	if o.Tools == nil {
		o.Tools = []responsesTool{}
	}
	if rr.Instructions != "" {
		o.Instructions = &rr.Instructions
	}
	if rr.ParallelToolCalls != nil {
		o.ParallelToolCalls = *rr.ParallelToolCalls
	}
	if len(rr.ToolChoice) > 0 {
		o.ToolChoice = rr.ToolChoice
	}
	return o
}

// finishStatus maps a chat finish reason to the response status.
func finishStatus(o *responseObject, finish string) {
	switch finish {
	case chat.FinishLength:
		o.Status, o.IncompleteDetails = "incomplete", &incomplete{Reason: "max_output_tokens"}
	case chat.FinishContentFilter:
		o.Status, o.IncompleteDetails = "incomplete", &incomplete{Reason: "content_filter"}
	default:
		o.Status = "completed"
	}
}

func (h *Handler) responses(w http.ResponseWriter, r *http.Request) {
	c, ok := h.admit(w, r)
	if !ok {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	rr, req, err := decodeResponsesRequest(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	call := &provider.ChatCall{Request: req} // a different dialect: adapters encode the request
	if rr.Stream {
		h.streamResponses(w, r, c, rr, call)
		return
	}
	// An answer that cannot be translated is recorded as the upstream's bad answer.
	res, err := h.p.ChatTranslated(r.Context(), c, call, func(res *provider.ChatResult) ([]byte, error) {
		return toResponse(rr, res)
	})
	if err != nil {
		h.fail(w, r, responsesError(err))
		return
	}
	httpheader.SetJSON(w.Header())
	_, _ = w.Write(res.JSON)
}

// toResponse translates a chat answer into a Responses API response object's JSON.
func toResponse(rr *responsesRequest, res *provider.ChatResult) ([]byte, error) {
	var cr chat.Response
	if err := json.Unmarshal(res.JSON, &cr); err != nil {
		return nil, provider.BadResponse(err)
	}
	o := baseResponse(rr, cr.Model)
	finish := ""
	if len(cr.Choices) > 0 {
		ch := cr.Choices[0]
		finish = ch.FinishReason
		if text := ch.Message.Content.String(); text != "" || len(ch.Message.ToolCalls) == 0 {
			o.Output = append(o.Output, mustJSON(messageItem{Type: "message", ID: newID("msg_"), Status: "completed", Role: chat.RoleAssistant,
				Content: []outputPart{{Type: "output_text", Text: text, Annotations: []any{}}}}))
		}
		for _, tc := range ch.Message.ToolCalls {
			o.Output = append(o.Output, mustJSON(functionCallItem{Type: "function_call", ID: newID("fc_"), CallID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments, Status: "completed"}))
		}
	}
	finishStatus(&o, finish)
	u := res.Usage
	o.Usage = toResponseUsage(&u)
	return json.Marshal(o)
}

// responsesStream turns chat chunks into Responses API events.
type responsesStream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	buf  []byte
	seq  int64
	o    responseObject
	text *messageItem // the open message item, if any
	// calls are the function call items by chat tool-call index, in output order.
	calls    map[int64]*functionCallItem
	order    []int64
	outIndex map[string]int // item id -> output index
	items    []any          // every item, in output order
	finish   string
}

func (s *responsesStream) emit(typ string, fields map[string]any) bool {
	fields["type"] = typ
	fields["sequence_number"] = s.seq
	s.seq++
	s.buf = sse.AppendEvent(s.buf[:0], typ, mustJSON(fields))
	_, err := s.w.Write(s.buf) // flushed by streamResponses before it waits for the upstream
	return err == nil
}

func (s *responsesStream) addItem(id string, item any) bool {
	s.outIndex[id] = len(s.items)
	s.items = append(s.items, item)
	return s.emit("response.output_item.added", map[string]any{"output_index": s.outIndex[id], "item": item})
}

func (s *responsesStream) closeText() bool {
	if s.text == nil {
		return true
	}
	t := s.text
	s.text = nil
	t.Status = "completed"
	idx := s.outIndex[t.ID]
	part := t.Content[0]
	return s.emit("response.output_text.done", map[string]any{"item_id": t.ID, "output_index": idx, "content_index": 0, "text": part.Text}) &&
		s.emit("response.content_part.done", map[string]any{"item_id": t.ID, "output_index": idx, "content_index": 0, "part": part}) &&
		s.emit("response.output_item.done", map[string]any{"output_index": idx, "item": t})
}

func (s *responsesStream) textDelta(delta string) bool {
	if s.text == nil {
		s.text = &messageItem{Type: "message", ID: newID("msg_"), Status: "in_progress", Role: chat.RoleAssistant, Content: []outputPart{}}
		if !s.addItem(s.text.ID, s.text) {
			return false
		}
		s.text.Content = append(s.text.Content, outputPart{Type: "output_text", Annotations: []any{}})
		if !s.emit("response.content_part.added", map[string]any{"item_id": s.text.ID, "output_index": s.outIndex[s.text.ID], "content_index": 0, "part": outputPart{Type: "output_text", Annotations: []any{}}}) {
			return false
		}
	}
	s.text.Content[0].Text += delta
	return s.emit("response.output_text.delta", map[string]any{"item_id": s.text.ID, "output_index": s.outIndex[s.text.ID], "content_index": 0, "delta": delta})
}

func (s *responsesStream) toolDelta(d chat.ToolCallDelta) bool {
	fc, ok := s.calls[d.Index]
	if !ok {
		if !s.closeText() {
			return false
		}
		fc = &functionCallItem{Type: "function_call", ID: newID("fc_"), CallID: d.ID, Name: d.Function.Name, Status: "in_progress"}
		s.calls[d.Index] = fc
		s.order = append(s.order, d.Index)
		if !s.addItem(fc.ID, fc) {
			return false
		}
	}
	if d.Function.Arguments == "" {
		return true
	}
	fc.Arguments += d.Function.Arguments
	return s.emit("response.function_call_arguments.delta", map[string]any{"item_id": fc.ID, "output_index": s.outIndex[fc.ID], "delta": d.Function.Arguments})
}

func (s *responsesStream) closeAll() bool {
	if !s.closeText() {
		return false
	}
	for _, i := range s.order {
		fc := s.calls[i]
		if fc.Status == "completed" {
			continue
		}
		fc.Status = "completed"
		idx := s.outIndex[fc.ID]
		if !s.emit("response.function_call_arguments.done", map[string]any{"item_id": fc.ID, "output_index": idx, "arguments": fc.Arguments}) ||
			!s.emit("response.output_item.done", map[string]any{"output_index": idx, "item": fc}) {
			return false
		}
	}
	return true
}

func (h *Handler) streamResponses(w http.ResponseWriter, r *http.Request, c *pipeline.Caller, rr *responsesRequest, call *provider.ChatCall) {
	st, err := h.p.ChatStream(r.Context(), c, call)
	if err != nil {
		h.fail(w, r, responsesError(err))
		return
	}
	defer st.Close()
	ch, err := st.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, responsesError(err))
		return
	}
	httpheader.SetEventStream(w.Header())
	w.WriteHeader(http.StatusOK)
	s := &responsesStream{w: w, rc: http.NewResponseController(w), buf: make([]byte, 0, 1024), o: baseResponse(rr, rr.Model),
		calls: map[int64]*functionCallItem{}, outIndex: map[string]int{}}
	defer func() { _ = s.rc.Flush() }() // the last events, however the stream ends
	if !s.emit("response.created", map[string]any{"response": s.o}) || !s.emit("response.in_progress", map[string]any{"response": s.o}) {
		return
	}
	var usage *chat.Usage
	for err == nil {
		var chunk chat.Chunk
		if uerr := json.Unmarshal(ch.JSON, &chunk); uerr != nil {
			err = provider.BadResponse(uerr)
			pipeline.Fail(st, err) // recorded as the upstream's bad answer, not as the client leaving
			break
		}
		if chunk.Model != "" {
			s.o.Model = chunk.Model
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, cc := range chunk.Choices {
			if cc.Index != 0 {
				continue // the Responses API has one output; n > 1 is not expressible
			}
			if d := cc.Delta.Content; d != nil && *d != "" && !s.textDelta(*d) {
				return
			}
			for _, td := range cc.Delta.ToolCalls {
				if !s.toolDelta(td) {
					return
				}
			}
			if cc.FinishReason != nil {
				s.finish = *cc.FinishReason
			}
		}
		// Flush only before a Recv that would wait: events of chunks that arrived together
		// leave together, and none waits for the next chunk (provider.Readier).
		if !provider.Ready(st) && s.rc.Flush() != nil {
			return
		}
		ch, err = st.Recv()
	}
	if !errors.Is(err, io.EOF) {
		if r.Context().Err() != nil {
			return
		}
		e := apierr.From(err)
		code := ""
		if b := e.OpenAI(); b.Error.Code != nil {
			code = *b.Error.Code
		}
		if !s.emit("error", map[string]any{"code": code, "message": e.Message, "param": nil}) {
			return
		}
		s.o.Status = "failed"
		s.o.Error = map[string]any{"code": code, "message": e.Message}
		s.emit("response.failed", map[string]any{"response": s.o})
		return
	}
	if !s.closeAll() {
		return
	}
	finishStatus(&s.o, s.finish)
	for _, it := range s.items {
		s.o.Output = append(s.o.Output, mustJSON(it))
	}
	s.o.Usage = toResponseUsage(usage)
	typ := "response.completed"
	if s.o.Status == "incomplete" {
		typ = "response.incomplete"
	}
	s.emit(typ, map[string]any{"response": s.o})
}
