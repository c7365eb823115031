package providerbedrock

import "encoding/json"

// The Bedrock runtime wire types (Converse, ConverseStream, InvokeModel for embeddings) and the
// STS AssumeRole answer: only the fields the adapter sends or reads.

// converseRequest is the body of POST /model/{modelId}/converse and .../converse-stream.
type converseRequest struct {
	Messages        []message        `json:"messages"`
	System          []systemBlock    `json:"system,omitempty"`
	InferenceConfig *inferenceConfig `json:"inferenceConfig,omitempty"`
	ToolConfig      *toolConfig      `json:"toolConfig,omitempty"`
	OutputConfig    *outputConfig    `json:"outputConfig,omitempty"`
}

// systemBlock is one block of the system prompt.
type systemBlock struct {
	Text string `json:"text"`
}

// inferenceConfig holds the inference parameters every Converse model accepts.
type inferenceConfig struct {
	MaxTokens     *int64   `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// message is one user or assistant turn.
type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

// contentBlock is a union: exactly one field is set. Response blocks of other kinds
// (reasoningContent, citationsContent, ...) decode as a block with no field set.
type contentBlock struct {
	Text       *string          `json:"text,omitempty"`
	Image      *imageBlock      `json:"image,omitempty"`
	ToolUse    *toolUseBlock    `json:"toolUse,omitempty"`
	ToolResult *toolResultBlock `json:"toolResult,omitempty"`
}

// textBlock returns a text content block.
func textBlock(s string) contentBlock { return contentBlock{Text: &s} }

// imageBlock is an image given by its bytes.
type imageBlock struct {
	Format string      `json:"format"` // png, jpeg, gif or webp
	Source imageSource `json:"source"`
}

// imageSource holds an image's bytes; JSON carries them as standard base64.
type imageSource struct {
	Bytes string `json:"bytes"`
}

// toolUseBlock is a tool call of the assistant.
type toolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// toolResultBlock is the result of a tool call, in a user turn.
type toolResultBlock struct {
	ToolUseID string         `json:"toolUseId"`
	Content   []contentBlock `json:"content"`
}

// toolConfig declares the tools and how the model may use them.
type toolConfig struct {
	Tools      []toolEntry `json:"tools"`
	ToolChoice *toolChoice `json:"toolChoice,omitempty"`
}

// outputConfig carries structured output; the adapter sends only its text format.
type outputConfig struct {
	TextFormat *outputFormat `json:"textFormat,omitempty"`
}

// outputFormat is {"type":"json_schema","structure":{"jsonSchema":{...}}}.
type outputFormat struct {
	Type      string          `json:"type"`
	Structure outputStructure `json:"structure"`
}

// outputStructure is a union whose only member is jsonSchema.
type outputStructure struct {
	JSONSchema jsonSchemaDefinition `json:"jsonSchema"`
}

// jsonSchemaDefinition is a schema as Converse takes it: the schema itself as a JSON string.
type jsonSchemaDefinition struct {
	Schema      string `json:"schema"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// toolEntry is a union whose only member the adapter sends is toolSpec.
type toolEntry struct {
	ToolSpec toolSpec `json:"toolSpec"`
}

// toolSpec is a function tool.
type toolSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	InputSchema inputSchema `json:"inputSchema"`
	// Strict asks the model to hold the tool's input to its schema.
	Strict *bool `json:"strict,omitempty"`
}

// inputSchema is a union whose only member is json, the JSON Schema of the input.
type inputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// toolChoice is a union: {"auto":{}}, {"any":{}} or {"tool":{"name":...}}. Converse has no
// "none" member.
type toolChoice struct {
	Auto *struct{}      `json:"auto,omitempty"`
	Any  *struct{}      `json:"any,omitempty"`
	Tool *namedToolPick `json:"tool,omitempty"`
}

// namedToolPick forces one tool.
type namedToolPick struct {
	Name string `json:"name"`
}

// converseResponse is the answer of Converse.
type converseResponse struct {
	Output struct {
		Message *message `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      tokenUsage `json:"usage"`
}

// tokenUsage is Bedrock's token count. inputTokens excludes the cache reads and writes.
type tokenUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	TotalTokens           int64 `json:"totalTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
	// CacheDetails splits the cache writes by lifetime.
	CacheDetails []cacheDetail `json:"cacheDetails"`
}

// cacheDetail is the cache writes of one lifetime: ttl "5m" or "1h".
type cacheDetail struct {
	InputTokens int64  `json:"inputTokens"`
	TTL         string `json:"ttl"`
}

// The payloads of ConverseStream events, one type per :event-type.

// contentBlockStartEvent starts a content block; only tool use blocks announce themselves.
type contentBlockStartEvent struct {
	ContentBlockIndex int64 `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
}

// contentBlockDeltaEvent is a piece of a content block: text, or a fragment of a tool call's
// input JSON. Reasoning and citation deltas decode with neither set.
type contentBlockDeltaEvent struct {
	ContentBlockIndex int64 `json:"contentBlockIndex"`
	Delta             struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
	} `json:"delta"`
}

// messageStopEvent ends the message.
type messageStopEvent struct {
	StopReason string `json:"stopReason"`
}

// metadataEvent is the last event: the usage of the whole answer.
type metadataEvent struct {
	Usage *tokenUsage `json:"usage"`
}

// exceptionPayload is the body of an error answer and of an exception event.
type exceptionPayload struct {
	Message string `json:"message"`
	// Type is set by some error answers instead of the x-amzn-ErrorType header.
	Type string `json:"__type"`
}

// titanEmbedRequest is the InvokeModel body of an Amazon Titan text embeddings model.
type titanEmbedRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int64 `json:"dimensions,omitempty"`
}

// titanEmbedResponse is the InvokeModel answer of an Amazon Titan text embeddings model.
type titanEmbedResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int64     `json:"inputTextTokenCount"`
}

// cohereEmbedRequest is the InvokeModel body of a Cohere embed model.
type cohereEmbedRequest struct {
	Texts     []string `json:"texts"`
	InputType string   `json:"input_type"`
}

// cohereEmbedResponse is the InvokeModel answer of a Cohere embed model. Embeddings is an
// array of vectors, or an object keyed by embedding type ({"float": [...]}) when the model
// answers by type.
type cohereEmbedResponse struct {
	Embeddings json.RawMessage `json:"embeddings"`
}

// assumeRoleResponse is STS's XML answer to AssumeRole.
type assumeRoleResponse struct {
	Result struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
}

// stsErrorResponse is STS's XML error answer.
type stsErrorResponse struct {
	Error struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}
