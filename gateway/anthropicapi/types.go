package anthropicapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The Messages API wire types (anthropic-version 2023-06-01): the fields the gateway reads in a
// request and writes in a translated answer. Fields it does not model are ignored on decode;
// on the native path they still reach the provider, because the raw body is what is sent.

// Request is a Messages request (POST /v1/messages) or a count_tokens request, which is the
// same without max_tokens and stream.
type Request struct {
	Model         string      `json:"model"`
	Messages      []Message   `json:"messages"`
	System        *Content    `json:"system,omitempty"`
	MaxTokens     *int64      `json:"max_tokens,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	TopK          *int64      `json:"top_k,omitempty"`
	Tools         []Tool      `json:"tools,omitempty"`
	ToolChoice    *ToolChoice `json:"tool_choice,omitempty"`
	Metadata      *Metadata   `json:"metadata,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Thinking      *Thinking   `json:"thinking,omitempty"`
}

// Message is one user or assistant turn.
type Message struct {
	Role    string   `json:"role"`
	Content *Content `json:"content"`
}

// Content is a string or an array of content blocks, as a message's content, the system
// prompt and a tool result's content all are. Blocks is non-nil exactly when it was an array.
type Content struct {
	Text   string
	Blocks []Block
}

// UnmarshalJSON accepts a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		c.Blocks = []Block{}
		return json.Unmarshal(b, &c.Blocks)
	}
	return errors.New("content must be a string or an array of content blocks")
}

// MarshalJSON writes a string, or an array when Blocks is non-nil.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Blocks != nil {
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

// Block types the gateway understands.
const (
	BlockText             = "text"
	BlockImage            = "image"
	BlockToolUse          = "tool_use"
	BlockToolResult       = "tool_result"
	BlockThinking         = "thinking"
	BlockRedactedThinking = "redacted_thinking"
)

// Block is a content block of any type; which fields are set depends on Type.
type Block struct {
	Type string `json:"type"`
	// Text is set for text blocks.
	Text string `json:"text,omitempty"`
	// Source is set for image blocks.
	Source *ImageSource `json:"source,omitempty"`
	// ID, Name and Input are set for tool_use blocks.
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// ToolUseID, Content and IsError are set for tool_result blocks.
	ToolUseID string   `json:"tool_use_id,omitempty"`
	Content   *Content `json:"content,omitempty"`
	IsError   bool     `json:"is_error,omitempty"`
	// Thinking and Signature are set for thinking blocks, Data for redacted_thinking blocks.
	Thinking  *string `json:"thinking,omitempty"`
	Signature string  `json:"signature,omitempty"`
	Data      string  `json:"data,omitempty"`
}

// ImageSource is where an image block's bytes come from: base64 data or a URL.
type ImageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a tool definition: a client tool (Type empty or "custom") or a server tool.
type Tool struct {
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	// Strict asks for the tool's input to follow its schema (strict tool use).
	Strict *bool `json:"strict,omitempty"`
}

// ToolChoice is auto, any, tool (with Name) or none.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Metadata is the request metadata.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Thinking is the extended-thinking config.
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int64  `json:"budget_tokens,omitempty"`
}

// Response is a Message object: the answer of a non-streamed request.
type Response struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []ResponseBlock `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        Usage           `json:"usage"`
}

// ResponseBlock is a text or tool_use block of an answer. Text has no omitempty: a text
// block always carries its text, empty at the start of a streamed block.
type ResponseBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// Usage is Anthropic's token count: input_tokens excludes the cache reads.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}
