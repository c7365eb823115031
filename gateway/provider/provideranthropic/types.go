package provideranthropic

import "encoding/json"

// The Messages API wire types: only the fields the adapter sends or reads.

// messagesRequest is the body of POST /v1/messages.
type messagesRequest struct {
	Model         string      `json:"model"`
	System        []block     `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	MaxTokens     int64       `json:"max_tokens"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	// OutputConfig carries structured output: the answer's JSON schema.
	OutputConfig *outputConfig `json:"output_config,omitempty"`
}

// outputConfig is Anthropic's output configuration; the adapter sends only its format.
type outputConfig struct {
	Format *outputFormat `json:"format,omitempty"`
}

// outputFormat is a structured output format: {"type":"json_schema","schema":{...}}.
type outputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

// metadata is the request metadata Anthropic accepts.
type metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// message is one user or assistant turn.
type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a content block of any type, in a request or a response.
type block struct {
	Type string `json:"type"`
	// Text is set for text blocks.
	Text string `json:"text,omitempty"`
	// Source is set for image blocks.
	Source *imageSource `json:"source,omitempty"`
	// ID, Name and Input are set for tool_use blocks.
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// ToolUseID and Content are set for tool_result blocks.
	ToolUseID string  `json:"tool_use_id,omitempty"`
	Content   []block `json:"content,omitempty"`
}

// imageSource is where an image block's bytes come from.
type imageSource struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// tool is a client tool definition.
type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
	// Strict asks Anthropic to hold the tool's input to its schema (strict tool use).
	Strict *bool `json:"strict,omitempty"`
}

// toolChoice is auto, any, none, or a named tool.
type toolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// messageResponse is a Message object: the non-streaming answer, and the message of a
// message_start event.
type messageResponse struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Role       string  `json:"role"`
	Model      string  `json:"model"`
	Content    []block `json:"content"`
	StopReason string  `json:"stop_reason"`
	Usage      usage   `json:"usage"`
}

// usage is Anthropic's token count. The cache counts may be null, which decodes as zero.
type usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	// CacheCreation splits the cache writes by lifetime; nil when the answer has no split.
	CacheCreation *cacheCreation `json:"cache_creation"`
}

// cacheCreation is the cache writes of an answer by lifetime (usage.cache_creation).
type cacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

// deltaUsage is the cumulative usage of a message_delta event. Only output_tokens is always
// present; the input counts are pointers so that an absent count does not erase the one
// message_start reported.
type deltaUsage struct {
	InputTokens              *int64         `json:"input_tokens"`
	OutputTokens             int64          `json:"output_tokens"`
	CacheCreationInputTokens *int64         `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64         `json:"cache_read_input_tokens"`
	CacheCreation            *cacheCreation `json:"cache_creation"`
}

// event is the data of one streaming event; which fields are set depends on Type.
type event struct {
	Type         string           `json:"type"`
	Message      *messageResponse `json:"message"`       // message_start
	Index        int64            `json:"index"`         // content_block_*
	ContentBlock *block           `json:"content_block"` // content_block_start
	Delta        *eventDelta      `json:"delta"`         // content_block_delta, message_delta
	Usage        *deltaUsage      `json:"usage"`         // message_delta
	Error        *errorDetail     `json:"error"`         // error
}

// eventDelta is the delta of a content_block_delta (Type set) or message_delta (StopReason set)
// event.
type eventDelta struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	PartialJSON string `json:"partial_json"`
	StopReason  string `json:"stop_reason"`
}

// errorDetail is the inner object of {"type":"error","error":{"type":...,"message":...}}.
type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
