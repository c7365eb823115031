package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Roles a message may have.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Finish reasons, as OpenAI names them.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Request is an OpenAI chat-completions request.
type Request struct {
	Model               string            `json:"model"`
	Messages            []Message         `json:"messages"`
	Stream              bool              `json:"stream,omitempty"`
	StreamOptions       *StreamOptions    `json:"stream_options,omitempty"`
	Temperature         *float64          `json:"temperature,omitempty"`
	TopP                *float64          `json:"top_p,omitempty"`
	MaxTokens           *int64            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64            `json:"max_completion_tokens,omitempty"`
	N                   *int64            `json:"n,omitempty"`
	Stop                Stop              `json:"stop,omitempty"`
	Seed                *int64            `json:"seed,omitempty"`
	PresencePenalty     *float64          `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64          `json:"frequency_penalty,omitempty"`
	LogitBias           map[string]int64  `json:"logit_bias,omitempty"`
	Logprobs            *bool             `json:"logprobs,omitempty"`
	TopLogprobs         *int64            `json:"top_logprobs,omitempty"`
	User                string            `json:"user,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	Tools               []Tool            `json:"tools,omitempty"`
	ToolChoice          *ToolChoice       `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool             `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat   `json:"response_format,omitempty"`
	ReasoningEffort     string            `json:"reasoning_effort,omitempty"`
}

// StreamOptions are the options of a streamed request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Stop is one stop sequence or several; JSON accepts a string or an array of strings.
type Stop []string

// UnmarshalJSON accepts a string or an array of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	v, err := stringOrStrings(b)
	*s = v
	return err
}

// stringOrStrings decodes the OpenAI union of one string or an array of strings.
func stringOrStrings(b []byte) ([]string, error) {
	if len(b) > 0 && b[0] == '"' {
		var one string
		err := json.Unmarshal(b, &one)
		return []string{one}, err
	}
	var many []string
	err := json.Unmarshal(b, &many)
	return many, err
}

// Message is one chat message.
type Message struct {
	Role       string     `json:"role"`
	Content    *Content   `json:"content,omitempty"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    string     `json:"refusal,omitempty"`
}

// Content is a message's content: plain text, or parts when Parts is non-nil.
type Content struct {
	Text  string
	Parts []Part
}

// TextContent returns content holding text.
func TextContent(text string) *Content { return &Content{Text: text} }

// String returns the text of the content: the text itself, or its text parts joined.
func (c *Content) String() string {
	if c == nil {
		return ""
	}
	if c.Parts == nil {
		return c.Text
	}
	var b bytes.Buffer
	for _, p := range c.Parts {
		if p.Type == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// MarshalJSON writes a string, or an array when Parts is non-nil.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	if s, ok := literal(b); ok {
		c.Text = s
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	if len(b) > 0 && b[0] == '[' {
		c.Parts = []Part{}
		return json.Unmarshal(b, &c.Parts)
	}
	return errors.New("content must be a string or an array of content parts")
}

// literal returns the JSON string b when it has no escapes, no control characters and is
// valid UTF-8: its bytes are then the string, as encoding/json would decode it, without a
// second pass of the decoder (b has been checked as JSON already). ok is false for any other
// value.
func literal(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// Part types.
const (
	PartText  = "text"
	PartImage = "image_url"
)

// Part is one content part. Types other than text and image_url are kept in Raw so that they
// pass through to providers that understand them.
type Part struct {
	Type     string          `json:"type"`
	Text     string          `json:"text,omitempty"`
	ImageURL *ImageURL       `json:"image_url,omitempty"`
	Raw      json.RawMessage `json:"-"`
}

// MarshalJSON writes the part, or Raw for a part type this package does not model.
func (p Part) MarshalJSON() ([]byte, error) {
	if p.Raw != nil {
		return p.Raw, nil
	}
	type plain Part
	return json.Marshal(plain(p))
}

// UnmarshalJSON reads a part and keeps the raw JSON of types it does not model.
func (p *Part) UnmarshalJSON(b []byte) error {
	type plain Part
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = Part(v)
	switch p.Type {
	case PartText, PartImage:
	case "":
		return errors.New("content part has no type")
	default:
		p.Raw = append(json.RawMessage(nil), b...)
	}
	return nil
}

// ImageURL is an image by URL or data: URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is a tool the model may call.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function describes a callable function.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is "none", "auto", "required", or a named function.
type ToolChoice struct {
	Mode     string // none, auto or required; empty when Function is set
	Function string // the forced function's name
}

// MarshalJSON writes a string mode or a function object.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

// UnmarshalJSON accepts a mode string or {"type":"function","function":{"name":...}}.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &t.Mode); err != nil {
			return err
		}
		switch t.Mode {
		case "none", "auto", "required":
			return nil
		}
		return errors.New(`tool_choice must be "none", "auto", "required" or a function`)
	}
	var v struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Type != "function" || v.Function.Name == "" {
		return errors.New(`tool_choice object must be {"type":"function","function":{"name":...}}`)
	}
	t.Function = v.Function.Name
	return nil
}

// ToolCall is a tool call in an assistant message.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the called function and its JSON arguments as text.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ResponseFormat constrains the output.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is a named schema for structured output.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Response is a chat.completion object.
type Response struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
}

// Choice is one answer.
type Choice struct {
	Index        int64           `json:"index"`
	Message      Message         `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Usage counts tokens as OpenAI reports them.
type Usage struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	// CacheWriteTokens is the number of prompt tokens written to the provider's cache
	// (Anthropic's cache_creation_input_tokens, Bedrock's cacheWriteInputTokens), which some
	// providers bill above the input price. They are part of PromptTokens, as cached reads
	// are. OpenAI's usage schema has no such member, so it is never serialized: clients of
	// the OpenAI surface see the prompt tokens it is part of; the Anthropic surface reports
	// it as cache_creation_input_tokens.
	CacheWriteTokens int64 `json:"-"`
	// CacheWrite1hTokens is the part of CacheWriteTokens written for a one-hour lifetime
	// (Anthropic's ephemeral_1h_input_tokens, Bedrock's cacheDetails with ttl 1h), which
	// Anthropic bills above the default five-minute writes. Never serialized.
	CacheWrite1hTokens int64 `json:"-"`
}

// CachedTokens is the number of prompt tokens read from the provider's cache.
func (u *Usage) CachedTokens() int64 {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// ReasoningTokens is the number of completion tokens spent on reasoning.
func (u *Usage) ReasoningTokens() int64 {
	if u == nil || u.CompletionTokensDetails == nil {
		return 0
	}
	return u.CompletionTokensDetails.ReasoningTokens
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// CompletionTokensDetails breaks completion tokens down.
type CompletionTokensDetails struct {
	ReasoningTokens int64 `json:"reasoning_tokens"`
}

// Chunk is a chat.completion.chunk object of a stream.
type Chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
}

// ChunkChoice is one choice's delta.
type ChunkChoice struct {
	Index        int64           `json:"index"`
	Delta        Delta           `json:"delta"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
}

// Delta is the change a chunk makes to a choice.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`
	Refusal   *string         `json:"refusal,omitempty"`
}

// ToolCallDelta is a piece of a streamed tool call.
type ToolCallDelta struct {
	Index    int64        `json:"index"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// EmbeddingRequest is an OpenAI embeddings request.
type EmbeddingRequest struct {
	Model          string `json:"model"`
	Input          Input  `json:"input"`
	EncodingFormat string `json:"encoding_format,omitempty"`
	Dimensions     *int64 `json:"dimensions,omitempty"`
	User           string `json:"user,omitempty"`
}

// Input is embedding input: one string or several. (Token-array input passes through raw to
// OpenAI-compatible upstreams and is refused by adapters that need text.)
type Input []string

// UnmarshalJSON accepts a string or an array of strings.
func (in *Input) UnmarshalJSON(b []byte) error {
	v, err := stringOrStrings(b)
	if err != nil {
		return errors.New("input must be a string or an array of strings")
	}
	*in = v
	return nil
}

// EmbeddingResponse is an OpenAI embeddings response.
type EmbeddingResponse struct {
	Object string      `json:"object"`
	Data   []Embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  *Usage      `json:"usage,omitempty"`
}

// Embedding is one vector.
type Embedding struct {
	Object    string    `json:"object"`
	Index     int64     `json:"index"`
	Embedding []float32 `json:"embedding"`
}
