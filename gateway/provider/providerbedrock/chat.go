package providerbedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// defaultInputSchema is the input schema of a tool declared without parameters: Converse
// requires a schema, and an object with any properties is what OpenAI means by none.
var defaultInputSchema = json.RawMessage(`{"type":"object"}`)

// emptyToolResult is the text of a tool result whose content is empty: Converse rejects empty
// text blocks, and a tool result must hold a block.
const emptyToolResult = "(no output)"

// imageFormats maps the media types of data: URLs to Converse image formats.
var imageFormats = map[string]string{
	"image/png":  "png",
	"image/jpeg": "jpeg",
	"image/jpg":  "jpeg",
	"image/gif":  "gif",
	"image/webp": "webp",
}

// translateRequest turns an OpenAI request into a Converse request. Errors are *apierr.Error
// of kind InvalidRequest naming the offending parameter.
func translateRequest(r *chat.Request) (*converseRequest, error) {
	if err := checkSupported(r); err != nil {
		return nil, err
	}
	out := &converseRequest{}
	ic := inferenceConfig{Temperature: r.Temperature, TopP: r.TopP, StopSequences: r.Stop}
	ic.MaxTokens = provider.MaxTokens(r)
	var err error
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || len(ic.StopSequences) > 0 {
		out.InferenceConfig = &ic
	}
	var hasToolBlocks bool
	if out.System, out.Messages, hasToolBlocks, err = translateMessages(r.Messages); err != nil {
		return nil, err
	}
	if out.ToolConfig, err = translateTools(r, hasToolBlocks); err != nil {
		return nil, err
	}
	schema, err := provider.StructuredOutput(r)
	if err != nil {
		return nil, err
	}
	if schema != nil {
		// Converse takes the schema as a JSON string, with the format's name and description.
		js := jsonSchemaDefinition{Schema: string(schema)}
		if d := r.ResponseFormat.JSONSchema; d != nil {
			js.Name, js.Description = d.Name, d.Description
		}
		out.OutputConfig = &outputConfig{TextFormat: &outputFormat{Type: "json_schema", Structure: outputStructure{JSONSchema: js}}}
	}
	return out, nil
}

// checkSupported rejects the parameters Converse cannot honour when they ask for something.
func checkSupported(r *chat.Request) error {
	return provider.Unsupported(r, "bedrock", provider.ParamN, provider.ParamLogprobs, provider.ParamTopLogprobs, provider.ParamLogitBias, provider.ParamPresencePenalty, provider.ParamFrequencyPenalty, provider.ParamSeed, provider.ParamJSONObject, provider.ParamReasoningEffort)
}

// translateMessages splits the OpenAI messages into Converse's system blocks and alternating
// user and assistant turns. hasToolBlocks reports whether any turn holds a tool call or result.
func translateMessages(msgs []chat.Message) (system []systemBlock, turns []message, hasToolBlocks bool, err error) {
	for i, m := range msgs {
		switch m.Role {
		case chat.RoleSystem, chat.RoleDeveloper:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, false, err
			}
			for j, b := range blocks {
				if b.Text == nil {
					param := fmt.Sprintf("messages[%d].content[%d]", i, j)
					return nil, nil, false, apierr.Invalid(param, "%s: %s messages may hold only text for bedrock models", param, m.Role)
				}
				system = append(system, systemBlock{Text: *b.Text})
			}
		case chat.RoleUser:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, false, err
			}
			turns = appendTurn(turns, chat.RoleUser, blocks)
		case chat.RoleAssistant:
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, false, err
			}
			if len(blocks) == 0 && m.Refusal != "" {
				blocks = append(blocks, textBlock(m.Refusal))
			}
			for j, tc := range m.ToolCalls {
				input, err := provider.ToolCallArgs(i, j, tc.Function.Arguments)
				if err != nil {
					return nil, nil, false, err
				}
				blocks = append(blocks, contentBlock{ToolUse: &toolUseBlock{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
				hasToolBlocks = true
			}
			turns = appendTurn(turns, chat.RoleAssistant, blocks)
		case chat.RoleTool:
			if m.ToolCallID == "" {
				param := fmt.Sprintf("messages[%d].tool_call_id", i)
				return nil, nil, false, apierr.Invalid(param, "tool messages[%d] must have tool_call_id", i)
			}
			blocks, err := contentBlocks(i, m.Content)
			if err != nil {
				return nil, nil, false, err
			}
			if len(blocks) == 0 {
				blocks = []contentBlock{textBlock(emptyToolResult)}
			}
			result := contentBlock{ToolResult: &toolResultBlock{ToolUseID: m.ToolCallID, Content: blocks}}
			turns = appendTurn(turns, chat.RoleUser, []contentBlock{result})
			hasToolBlocks = true
		default:
			param := fmt.Sprintf("messages[%d].role", i)
			return nil, nil, false, apierr.Invalid(param, "messages[%d] has unknown role %q", i, m.Role)
		}
	}
	return system, turns, hasToolBlocks, nil
}

// appendTurn adds blocks as a turn of role, merged into the last turn when it has the same role:
// Converse requires the roles to alternate. A turn without blocks is left out, since Converse
// rejects empty content and an empty turn says nothing.
func appendTurn(turns []message, role string, blocks []contentBlock) []message {
	if len(blocks) == 0 {
		return turns
	}
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Content = append(turns[n-1].Content, blocks...)
		return turns
	}
	return append(turns, message{Role: role, Content: blocks})
}

// contentBlocks translates the content of messages[i]. Empty text is left out: Converse rejects
// empty text blocks.
func contentBlocks(i int, c *chat.Content) ([]contentBlock, error) {
	if c == nil {
		return nil, nil
	}
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []contentBlock{textBlock(c.Text)}, nil
	}
	blocks := make([]contentBlock, 0, len(c.Parts))
	for j, p := range c.Parts {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		if p.Raw != nil {
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by bedrock models", param, p.Type)
		}
		switch p.Type {
		case chat.PartText:
			if p.Text != "" {
				blocks = append(blocks, textBlock(p.Text))
			}
		case chat.PartImage:
			b, err := image(param, p.ImageURL)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, b)
		default:
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by bedrock models", param, p.Type)
		}
	}
	return blocks, nil
}

// image translates an image_url part. Converse takes images only as bytes, so only base64
// data: URLs of PNG, JPEG, GIF and WebP images are accepted; the gateway does not fetch URLs.
func image(param string, img *chat.ImageURL) (contentBlock, error) {
	param += ".image_url.url"
	if img == nil || img.URL == "" {
		return contentBlock{}, apierr.Invalid(param, "%s must be set", param)
	}
	mediaType, data, isData, err := provider.DataURL(param, img.URL)
	if !isData {
		return contentBlock{}, apierr.Invalid(param, "%s: image URLs are not supported by bedrock models; send the image as a base64 data: URL", param)
	}
	if err != nil {
		return contentBlock{}, err
	}
	format, ok := imageFormats[strings.ToLower(mediaType)]
	if !ok {
		return contentBlock{}, apierr.Invalid(param, "%s: image type %q is not supported by bedrock models; use png, jpeg, gif or webp", param, mediaType)
	}
	return contentBlock{Image: &imageBlock{Format: format, Source: imageSource{Bytes: data}}}, nil
}

// translateTools translates tools, tool_choice and parallel_tool_calls. hasToolBlocks reports
// whether the messages hold tool calls or results: Converse then requires a toolConfig.
func translateTools(r *chat.Request, hasToolBlocks bool) (*toolConfig, error) {
	tc := r.ToolChoice
	if len(r.Tools) == 0 {
		if tc != nil && (tc.Function != "" || tc.Mode == "required") {
			return nil, apierr.Invalid("tool_choice", "tool_choice needs tools")
		}
		if hasToolBlocks {
			return nil, apierr.Invalid("tools", "messages hold tool calls or tool results; bedrock models need the tools declared in tools")
		}
		// Without tools, "none", "auto" and parallel_tool_calls ask for nothing.
		return nil, nil
	}
	if tc != nil && tc.Mode == "none" {
		// Converse has no "none" choice: withholding the tools is how it is said. Converse
		// refuses tool calls and results in the messages without a toolConfig, though.
		if hasToolBlocks {
			return nil, apierr.Invalid("tool_choice", `tool_choice "none" is not supported by bedrock models when the messages hold tool calls or tool results`)
		}
		return nil, nil
	}
	if p := r.ParallelToolCalls; p != nil && !*p {
		return nil, provider.NotSupported("parallel_tool_calls", "bedrock")
	}
	cfg := &toolConfig{Tools: make([]toolEntry, 0, len(r.Tools))}
	for i, t := range r.Tools {
		if (t.Type != "" && t.Type != "function") || t.Function.Name == "" {
			param := fmt.Sprintf("tools[%d]", i)
			return nil, apierr.Invalid(param, "tools[%d] must be a function with a name", i)
		}
		schema := t.Function.Parameters
		if s := bytes.TrimSpace(schema); len(s) == 0 || bytes.Equal(s, []byte("null")) {
			schema = defaultInputSchema
		}
		cfg.Tools = append(cfg.Tools, toolEntry{ToolSpec: toolSpec{Name: t.Function.Name, Description: t.Function.Description, InputSchema: inputSchema{JSON: schema}, Strict: t.Function.Strict}})
	}
	if tc != nil {
		switch {
		case tc.Function != "":
			cfg.ToolChoice = &toolChoice{Tool: &namedToolPick{Name: tc.Function}}
		case tc.Mode == "auto":
			cfg.ToolChoice = &toolChoice{Auto: &struct{}{}}
		case tc.Mode == "required":
			cfg.ToolChoice = &toolChoice{Any: &struct{}{}}
		default:
			return nil, apierr.Invalid("tool_choice", `tool_choice must be "none", "auto", "required" or a function`)
		}
	}
	return cfg, nil
}

// finishReason maps a Converse stop reason to an OpenAI finish reason. Unknown reasons map to
// "stop": the answer did end, and a new reason must not fail a good answer.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return chat.FinishLength
	case "tool_use":
		return chat.FinishToolCalls
	case "guardrail_intervened", "content_filtered":
		return chat.FinishContentFilter
	default: // end_turn, stop_sequence
		return chat.FinishStop
	}
}

// openAIUsage converts Bedrock's usage: cache reads and writes are prompt tokens too (the
// writes also counted apart, chat.Usage.CacheWriteTokens, the one-hour ones of cacheDetails
// among them in CacheWrite1hTokens, as they are priced apart), and the total is recomputed
// from the parts so that it always adds up.
func openAIUsage(u tokenUsage) chat.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
	out := chat.Usage{
		PromptTokens:        prompt,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         prompt + u.OutputTokens,
		PromptTokensDetails: &chat.PromptTokensDetails{CachedTokens: u.CacheReadInputTokens},
		CacheWriteTokens:    u.CacheWriteInputTokens,
	}
	for _, d := range u.CacheDetails {
		if d.TTL == "1h" {
			out.CacheWrite1hTokens += d.InputTokens
		}
	}
	out.CacheWrite1hTokens = min(out.CacheWrite1hTokens, out.CacheWriteTokens)
	return out
}

// completion translates a Converse answer into a chat.completion with the given id and model,
// created at now.
func completion(m *converseResponse, id, model string, now time.Time) ([]byte, chat.Usage, error) {
	var text strings.Builder
	var calls []chat.ToolCall
	for _, b := range m.Output.Message.Content {
		switch {
		case b.Text != nil:
			text.WriteString(*b.Text)
		case b.ToolUse != nil:
			args, err := toolArguments(b.ToolUse.Input)
			if err != nil {
				return nil, chat.Usage{}, err
			}
			calls = append(calls, chat.ToolCall{ID: b.ToolUse.ToolUseID, Type: "function", Function: chat.FunctionCall{Name: b.ToolUse.Name, Arguments: args}})
		}
		// Reasoning, citation and other blocks have no OpenAI form.
	}
	msg := chat.Message{Role: chat.RoleAssistant, ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		msg.Content = chat.TextContent(text.String())
	}
	u := openAIUsage(m.Usage)
	out, err := json.Marshal(chat.Response{
		ID:      id,
		Object:  "chat.completion",
		Created: now.Unix(),
		Model:   model,
		Choices: []chat.Choice{{Index: 0, Message: msg, FinishReason: finishReason(m.StopReason)}},
		Usage:   &u,
	})
	if err != nil {
		return nil, chat.Usage{}, fmt.Errorf("bedrock: encode completion: %w", err)
	}
	return out, u, nil
}

// toolArguments renders a toolUse input as compact JSON arguments.
func toolArguments(input json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		return "", provider.BadResponse(fmt.Errorf("toolUse input: %w", err))
	}
	return buf.String(), nil
}
