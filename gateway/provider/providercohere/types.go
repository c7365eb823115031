package providercohere

import (
	"encoding/json"
	"math"
)

// The Cohere v2 wire types: only the fields the adapter sends or reads.

// chatRequest is the body of POST /v2/chat.
type chatRequest struct {
	Model            string          `json:"model"`
	Messages         []message       `json:"messages"`
	Tools            []tool          `json:"tools,omitempty"`
	StrictTools      bool            `json:"strict_tools,omitempty"`
	ToolChoice       string          `json:"tool_choice,omitempty"`
	ResponseFormat   *responseFormat `json:"response_format,omitempty"`
	MaxTokens        *int64          `json:"max_tokens,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	P                *float64        `json:"p,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	Stream           bool            `json:"stream"`
}

// message is one message of any role. Content is a string, or parts when Parts is non-nil.
type message struct {
	Role       string     `json:"role"`
	Content    *content   `json:"content,omitempty"`
	ToolPlan   string     `json:"tool_plan,omitempty"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// content is a message's content: a string, or parts when Parts is non-nil.
type content struct {
	Text  string
	Parts []part
}

// MarshalJSON writes a string, or an array when Parts is non-nil.
func (c content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// part is a content part: text or image_url in a request; text or thinking in an answer.
type part struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

// imageURL is an image by URL or data: URL.
type imageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// tool is a function tool, in the same shape as OpenAI's.
type tool struct {
	Type     string       `json:"type"`
	Function toolFunction `json:"function"`
}

// toolFunction describes a callable function.
type toolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// toolCall is a call of a function tool, in a request or an answer.
type toolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

// functionCall is the called function and its JSON arguments as text.
type functionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// responseFormat is {"type":"text"} or {"type":"json_object"} with an optional JSON Schema.
type responseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// chatResponse is the non-streaming answer of POST /v2/chat.
type chatResponse struct {
	ID           string          `json:"id"`
	FinishReason string          `json:"finish_reason"`
	Message      responseMessage `json:"message"`
	Usage        *usage          `json:"usage"`
}

// responseMessage is the assistant message of an answer.
type responseMessage struct {
	Role      string     `json:"role"`
	Content   []part     `json:"content"`
	ToolPlan  string     `json:"tool_plan"`
	ToolCalls []toolCall `json:"tool_calls"`
}

// usage is Cohere's count of an answer: billed_units is what the account is billed, tokens what
// the model read and wrote.
type usage struct {
	BilledUnits *units `json:"billed_units"`
	Tokens      *units `json:"tokens"`
}

// units are counts, which Cohere documents as numbers (doubles), not integers; each is rounded.
// SearchUnits is set only in rerank answers.
type units struct {
	InputTokens  number `json:"input_tokens"`
	OutputTokens number `json:"output_tokens"`
	SearchUnits  number `json:"search_units"`
}

// number is a non-negative count sent as a JSON number that may have a fraction.
type number int64

// UnmarshalJSON rounds a JSON number to the nearest integer; null is zero.
func (n *number) UnmarshalJSON(b []byte) error {
	var f *float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f != nil && *f > 0 {
		*n = number(math.Round(*f))
	} else {
		*n = 0
	}
	return nil
}

// event is the data of one streaming event; which fields are set depends on Type. Delta is
// decoded by type: message-start's delta holds arrays where later events' deltas hold objects.
type event struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`    // message-start
	Index *int64          `json:"index"` // content-*, tool-call-*
	Delta json.RawMessage `json:"delta"`
}

// eventDelta is the delta of an event: Message for content and tool events, FinishReason,
// Usage and Error for message-end.
type eventDelta struct {
	Message      *deltaMessage `json:"message"`
	FinishReason string        `json:"finish_reason"`
	Usage        *usage        `json:"usage"`
	Error        string        `json:"error"`
}

// deltaMessage is the part of the message an event adds. In events, content and tool_calls are
// single objects, not arrays.
type deltaMessage struct {
	Content   *part          `json:"content"`
	ToolPlan  string         `json:"tool_plan"`
	ToolCalls *toolCallDelta `json:"tool_calls"`
}

// toolCallDelta is the tool call of a tool-call-start (ID and name set) or tool-call-delta (an
// arguments fragment) event.
type toolCallDelta struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

// embedRequest is the body of POST /v2/embed.
type embedRequest struct {
	Model           string   `json:"model"`
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	EmbeddingTypes  []string `json:"embedding_types"`
	OutputDimension *int64   `json:"output_dimension,omitempty"`
}

// embedResponse is the answer of POST /v2/embed with embedding_types ["float"].
type embedResponse struct {
	ID         string `json:"id"`
	Embeddings struct {
		Float [][]float32 `json:"float"`
	} `json:"embeddings"`
	Meta *usage `json:"meta"`
}

// rerankRequest is the body of POST /v2/rerank.
type rerankRequest struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      *int64   `json:"top_n,omitempty"`
}

// rerankResponse is the answer of POST /v2/rerank; v2 does not echo the documents.
type rerankResponse struct {
	ID      string         `json:"id"`
	Results []rerankResult `json:"results"`
	Meta    *usage         `json:"meta"`
}

// rerankResult is one ranked document.
type rerankResult struct {
	Index          int64   `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
}
