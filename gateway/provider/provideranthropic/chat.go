package provideranthropic

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// defaultInputSchema is the input_schema of a tool declared without parameters: Anthropic
// requires a schema, and an object with any properties is what OpenAI means by none.
var defaultInputSchema = json.RawMessage(`{"type":"object"}`)

// translateRequest turns an OpenAI request into a Messages request for model. Errors are
// *apierr.Error of kind InvalidRequest naming the offending parameter.
func translateRequest(r *chat.Request, model string) (*messagesRequest, error) {
	if err := checkSupported(r); err != nil {
		return nil, err
	}
	out := &messagesRequest{
		Model:         model,
		MaxTokens:     DefaultMaxTokens,
		Temperature:   r.Temperature,
		TopP:          r.TopP,
		StopSequences: r.Stop,
	}
	var err error
	if limit := provider.MaxTokens(r); limit != nil {
		out.MaxTokens = *limit
	}
	if r.User != "" {
		// Anthropic asks for an opaque id, never a name or an email, which is what OpenAI
		// clients often put in user: send a stable hash of it instead.
		out.Metadata = &metadata{UserID: opaqueUserID(r.User)}
	}
	if out.System, out.Messages, err = translateMessages(r.Messages); err != nil {
		return nil, err
	}
	if out.Tools, out.ToolChoice, err = translateTools(r); err != nil {
		return nil, err
	}
	schema, err := provider.StructuredOutput(r)
	if err != nil {
		return nil, err
	}
	if schema != nil {
		out.OutputConfig = &outputConfig{Format: &outputFormat{Type: "json_schema", Schema: schema}}
	}
	return out, nil
}

// checkSupported rejects the parameters Anthropic cannot honour when they ask for something.
func checkSupported(r *chat.Request) error {
	return provider.Unsupported(r, "anthropic", provider.ParamN, provider.ParamLogprobs, provider.ParamTopLogprobs, provider.ParamLogitBias, provider.ParamPresencePenalty, provider.ParamFrequencyPenalty, provider.ParamSeed, provider.ParamJSONObject, provider.ParamReasoningEffort)
}

// translateMessages splits the OpenAI messages into Anthropic's system prompt and alternating
// user and assistant turns.
func translateMessages(msgs []chat.Message) ([]block, []message, error) {
	var system []block
	var turns []message
	for i, m := range msgs {
		switch m.Role {
		case chat.RoleSystem, chat.RoleDeveloper:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			for j, b := range blocks {
				if b.Type != "text" {
					param := fmt.Sprintf("messages[%d].content[%d]", i, j)
					return nil, nil, apierr.Invalid(param, "%s: %s messages may hold only text for anthropic models", param, m.Role)
				}
			}
			system = append(system, blocks...)
		case chat.RoleUser:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			turns = appendTurn(turns, chat.RoleUser, blocks)
		case chat.RoleAssistant:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			if len(blocks) == 0 && m.Refusal != "" {
				blocks = append(blocks, block{Type: "text", Text: m.Refusal})
			}
			for j, tc := range m.ToolCalls {
				input, err := provider.ToolCallArgs(i, j, tc.Function.Arguments)
				if err != nil {
					return nil, nil, err
				}
				blocks = append(blocks, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
			turns = appendTurn(turns, chat.RoleAssistant, blocks)
		case chat.RoleTool:
			if m.ToolCallID == "" {
				param := fmt.Sprintf("messages[%d].tool_call_id", i)
				return nil, nil, apierr.Invalid(param, "tool messages[%d] must have tool_call_id", i)
			}
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			result := block{Type: "tool_result", ToolUseID: m.ToolCallID, Content: blocks}
			turns = appendTurn(turns, chat.RoleUser, []block{result})
		default:
			param := fmt.Sprintf("messages[%d].role", i)
			return nil, nil, apierr.Invalid(param, "messages[%d] has unknown role %q", i, m.Role)
		}
	}
	return system, turns, nil
}

// appendTurn adds blocks as a turn of role, merged into the last turn when it has the same role:
// Anthropic requires the roles to alternate. A turn without blocks is left out, since Anthropic
// rejects empty content and an empty turn says nothing.
func appendTurn(turns []message, role string, blocks []block) []message {
	if len(blocks) == 0 {
		return turns
	}
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Content = append(turns[n-1].Content, blocks...)
		return turns
	}
	return append(turns, message{Role: role, Content: blocks})
}

// contentBlocks translates the content of messages[i]. Empty text is left out: Anthropic
// rejects empty text blocks.
func contentBlocks(i int, c *chat.Content) ([]block, error) {
	if c == nil {
		return nil, nil
	}
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: c.Text}}, nil
	}
	blocks := make([]block, 0, len(c.Parts))
	for j, p := range c.Parts {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		if p.Raw != nil {
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by anthropic models", param, p.Type)
		}
		switch p.Type {
		case chat.PartText:
			if p.Text != "" {
				blocks = append(blocks, block{Type: "text", Text: p.Text})
			}
		case chat.PartImage:
			b, err := imageBlock(param, p.ImageURL)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, b)
		default:
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by anthropic models", param, p.Type)
		}
	}
	return blocks, nil
}

// imageBlock translates an image_url part: a base64 data: URL becomes a base64 source, an http
// or https URL a url source.
func imageBlock(param string, img *chat.ImageURL) (block, error) {
	param += ".image_url.url"
	if img == nil || img.URL == "" {
		return block{}, apierr.Invalid(param, "%s must be set", param)
	}
	if mediaType, data, isData, err := provider.DataURL(param, img.URL); isData {
		if err != nil {
			return block{}, err
		}
		return block{Type: "image", Source: &imageSource{Type: "base64", MediaType: mediaType, Data: data}}, nil
	}
	u, err := url.Parse(img.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return block{}, apierr.Invalid(param, "%s must be an http, https or base64 data: URL", param)
	}
	return block{Type: "image", Source: &imageSource{Type: "url", URL: img.URL}}, nil
}

// translateTools translates tools, tool_choice and parallel_tool_calls.
func translateTools(r *chat.Request) ([]tool, *toolChoice, error) {
	if len(r.Tools) == 0 {
		if tc := r.ToolChoice; tc != nil && (tc.Function != "" || tc.Mode == "required") {
			return nil, nil, apierr.Invalid("tool_choice", "tool_choice needs tools")
		}
		// Without tools, "none", "auto" and parallel_tool_calls ask for nothing.
		return nil, nil, nil
	}
	tools := make([]tool, 0, len(r.Tools))
	for i, t := range r.Tools {
		if (t.Type != "" && t.Type != "function") || t.Function.Name == "" {
			param := fmt.Sprintf("tools[%d]", i)
			return nil, nil, apierr.Invalid(param, "tools[%d] must be a function with a name", i)
		}
		schema := t.Function.Parameters
		if s := bytes.TrimSpace(schema); len(s) == 0 || bytes.Equal(s, []byte("null")) {
			schema = defaultInputSchema
		}
		tools = append(tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema, Strict: t.Function.Strict})
	}
	var choice *toolChoice
	if tc := r.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			choice = &toolChoice{Type: "tool", Name: tc.Function}
		case tc.Mode == "auto":
			choice = &toolChoice{Type: "auto"}
		case tc.Mode == "required":
			choice = &toolChoice{Type: "any"}
		case tc.Mode == "none":
			choice = &toolChoice{Type: "none"}
		default:
			return nil, nil, apierr.Invalid("tool_choice", `tool_choice must be "none", "auto", "required" or a function`)
		}
	}
	if p := r.ParallelToolCalls; p != nil && !*p {
		if choice == nil {
			choice = &toolChoice{Type: "auto"}
		}
		// With "none" no tool is called, so there is nothing to serialise, and Anthropic's
		// none choice has no such field.
		if choice.Type != "none" {
			choice.DisableParallelToolUse = true
		}
	}
	return tools, choice, nil
}

// finishReason maps an Anthropic stop reason to an OpenAI finish reason. Unknown reasons map
// to "stop": the answer did end, and a new reason must not fail a good answer.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return chat.FinishLength
	case "tool_use":
		return chat.FinishToolCalls
	case "refusal":
		return chat.FinishContentFilter
	default: // end_turn, stop_sequence, pause_turn
		return chat.FinishStop
	}
}

// openAIUsage converts Anthropic's usage: cache reads and writes are prompt tokens too, and
// the writes are counted apart (chat.Usage.CacheWriteTokens, the one-hour ones among them in
// CacheWrite1hTokens), as they are priced apart.
func openAIUsage(u usage) chat.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	out := chat.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         prompt + u.OutputTokens,
		PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: u.CacheReadInputTokens},
		CacheWriteTokens:    u.CacheCreationInputTokens,
	}
	if u.CacheCreation != nil {
		out.CacheWrite1hTokens = min(u.CacheCreation.Ephemeral1h, u.CacheCreationInputTokens)
	}
	return out
}

// completion translates a Message into a chat.completion created at now.
func completion(m *messageResponse, now time.Time) ([]byte, chat.Usage, error) {
	var text strings.Builder
	var calls []chat.ToolCall
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			args, err := toolArguments(b.Input)
			if err != nil {
				return nil, chat.Usage{}, err
			}
			calls = append(calls, chat.ToolCall{ID: b.ID, Type: "function", Function: chat.FunctionCall{Name: b.Name, Arguments: args}})
		}
		// Thinking, redacted_thinking and server-tool blocks have no OpenAI form.
	}
	msg := chat.Message{Role: chat.RoleAssistant, ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		msg.Content = chat.TextContent(text.String())
	}
	u := openAIUsage(m.Usage)
	out, err := json.Marshal(chat.Response{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: now.Unix(),
		Model:   m.Model,
		Choices: []chat.Choice{{Index: 0, Message: msg, FinishReason: finishReason(m.StopReason)}},
		Usage:   &u,
	})
	if err != nil {
		return nil, chat.Usage{}, fmt.Errorf("anthropic: encode completion: %w", err)
	}
	return out, u, nil
}

// toolArguments renders a tool_use input as compact JSON arguments.
func toolArguments(input json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "", provider.BadResponse(fmt.Errorf("tool_use input: %w", err))
	}
	return buf.String(), nil
}

// opaqueUserID is the metadata.user_id sent for an OpenAI user: "u-" and the first 32 hex
// digits of its SHA-256, stable for the same user and saying nothing about who it is.
func opaqueUserID(user string) string {
	sum := sha256.Sum256([]byte(user))
	return "u-" + hex.EncodeToString(sum[:16])
}
