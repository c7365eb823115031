package providergoogle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// Gemini's roles.
const (
	roleUser  = "user"
	roleModel = "model"
)

// thinkingBudgets maps reasoning_effort to a thinking budget in tokens, as Google's own
// OpenAI-compatible endpoint does.
var thinkingBudgets = map[string]int64{
	"none":    0,
	"minimal": 1024,
	"low":     1024,
	"medium":  8192,
	"high":    24576,
}

// imageTypes are the MIME types guessed from an image URL's extension (see the package doc).
var imageTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".heic": "image/heic",
	".heif": "image/heif",
}

// translateRequest turns an OpenAI request into a generateContent request. Errors are
// *apierr.Error of kind InvalidRequest naming the offending parameter.
func translateRequest(r *chat.Request) (*generateRequest, error) {
	if err := checkSupported(r); err != nil {
		return nil, err
	}
	out := &generateRequest{}
	var err error
	if out.SystemInstruction, out.Contents, err = translateMessages(r.Messages); err != nil {
		return nil, err
	}
	if out.Tools, out.ToolConfig, err = translateTools(r); err != nil {
		return nil, err
	}
	if out.GenerationConfig, err = translateConfig(r); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSupported rejects the parameters Gemini cannot honour when they ask for something.
func checkSupported(r *chat.Request) error {
	return provider.Unsupported(r, "gemini", provider.ParamLogprobs, provider.ParamTopLogprobs, provider.ParamLogitBias, provider.ParamSequentialToolCalls, provider.ParamStrictTools)
}

// translateConfig builds the generation config; nil when the request sets nothing.
func translateConfig(r *chat.Request) (*generationConfig, error) {
	g := generationConfig{
		Temperature:      r.Temperature,
		TopP:             r.TopP,
		StopSequences:    r.Stop,
		Seed:             r.Seed,
		PresencePenalty:  r.PresencePenalty,
		FrequencyPenalty: r.FrequencyPenalty,
	}
	g.MaxOutputTokens = provider.MaxTokens(r)
	if r.N != nil && *r.N > 1 {
		g.CandidateCount = r.N
	}
	if f := r.ResponseFormat; f != nil {
		switch f.Type {
		case "text":
		case "json_object":
			g.ResponseMimeType = "application/json"
		case "json_schema":
			if f.JSONSchema == nil || isNull(f.JSONSchema.Schema) {
				return nil, apierr.Invalid("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
			}
			g.ResponseMimeType = "application/json"
			g.ResponseJSONSchema = f.JSONSchema.Schema
		default:
			return nil, apierr.Invalid("response_format.type", "response_format.type must be text, json_object or json_schema")
		}
	}
	if r.ReasoningEffort != "" {
		budget, ok := thinkingBudgets[r.ReasoningEffort]
		if !ok {
			return nil, apierr.Invalid("reasoning_effort", "reasoning_effort must be none, minimal, low, medium or high")
		}
		g.ThinkingConfig = &thinkingConfig{ThinkingBudget: budget}
	}
	if reflect.ValueOf(g).IsZero() {
		return nil, nil
	}
	return &g, nil
}

// isNull reports whether raw JSON is absent or null.
func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

// translateMessages splits the OpenAI messages into the system instruction and user and model
// turns. Consecutive messages that map to the same role are merged into one turn, so that the
// function responses answering one model turn arrive together in the next user turn.
func translateMessages(msgs []chat.Message) (*content, []content, error) {
	var system *content
	var turns []content
	for i, m := range msgs {
		switch m.Role {
		case chat.RoleSystem, chat.RoleDeveloper:
			parts, err := textParts(i, m.Role, m.Content)
			if err != nil {
				return nil, nil, err
			}
			if len(parts) == 0 {
				continue
			}
			if system == nil {
				system = &content{}
			}
			system.Parts = append(system.Parts, parts...)
		case chat.RoleUser:
			parts, err := userParts(i, m.Content)
			if err != nil {
				return nil, nil, err
			}
			turns = appendTurn(turns, roleUser, parts)
		case chat.RoleAssistant:
			parts, err := textParts(i, m.Role, m.Content)
			if err != nil {
				return nil, nil, err
			}
			if len(parts) == 0 && m.Refusal != "" {
				parts = append(parts, part{Text: m.Refusal})
			}
			for j, tc := range m.ToolCalls {
				param := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
				if tc.Function.Name == "" {
					return nil, nil, apierr.Invalid(param+".function.name", "%s has no function name", param)
				}
				args, err := provider.ToolCallArgs(i, j, tc.Function.Arguments)
				if err != nil {
					return nil, nil, err
				}
				parts = append(parts, part{FunctionCall: &functionCall{Name: tc.Function.Name, Args: args}, ThoughtSignature: signatureOf(tc.ID)})
			}
			turns = appendTurn(turns, roleModel, parts)
		case chat.RoleTool:
			p, err := toolResult(msgs, i)
			if err != nil {
				return nil, nil, err
			}
			turns = appendTurn(turns, roleUser, []part{p})
		default:
			param := fmt.Sprintf("messages[%d].role", i)
			return nil, nil, apierr.Invalid(param, "messages[%d] has unknown role %q", i, m.Role)
		}
	}
	if len(turns) == 0 {
		return nil, nil, apierr.Invalid("messages", "messages must include at least one user or assistant message")
	}
	return system, turns, nil
}

// appendTurn adds parts as a turn of role, merged into the last turn when it has the same
// role. A turn without parts is left out: Gemini rejects empty contents.
func appendTurn(turns []content, role string, parts []part) []content {
	if len(parts) == 0 {
		return turns
	}
	if n := len(turns); n > 0 && turns[n-1].Role == role {
		turns[n-1].Parts = append(turns[n-1].Parts, parts...)
		return turns
	}
	return append(turns, content{Role: role, Parts: parts})
}

// textParts translates the content of messages[i], which may hold only text. Empty text is
// left out: Gemini rejects a part with no data.
func textParts(i int, role string, c *chat.Content) ([]part, error) {
	if c == nil {
		return nil, nil
	}
	if c.Parts == nil {
		if c.Text == "" {
			return nil, nil
		}
		return []part{{Text: c.Text}}, nil
	}
	parts := make([]part, 0, len(c.Parts))
	for j, p := range c.Parts {
		switch {
		case p.Type == chat.PartText && p.Raw == nil:
			if p.Text != "" {
				parts = append(parts, part{Text: p.Text})
			}
		case p.Type == "refusal":
			// An assistant's refusal part is what the model said; send it as text.
			var v struct {
				Refusal string `json:"refusal"`
			}
			if err := json.Unmarshal(p.Raw, &v); err == nil && v.Refusal != "" && role == chat.RoleAssistant {
				parts = append(parts, part{Text: v.Refusal})
				continue
			}
			fallthrough
		default:
			param := fmt.Sprintf("messages[%d].content[%d]", i, j)
			return nil, apierr.Invalid(param, "%s: %s messages may hold only text for gemini models", param, role)
		}
	}
	return parts, nil
}

// userParts translates the content of user messages[i]: text and images.
func userParts(i int, c *chat.Content) ([]part, error) {
	if c == nil || c.Parts == nil {
		return textParts(i, chat.RoleUser, c)
	}
	parts := make([]part, 0, len(c.Parts))
	for j, p := range c.Parts {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		if p.Raw != nil {
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by gemini models", param, p.Type)
		}
		switch p.Type {
		case chat.PartText:
			if p.Text != "" {
				parts = append(parts, part{Text: p.Text})
			}
		case chat.PartImage:
			ip, err := imagePart(param, p.ImageURL)
			if err != nil {
				return nil, err
			}
			parts = append(parts, ip)
		default:
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by gemini models", param, p.Type)
		}
	}
	return parts, nil
}

// imagePart translates an image_url part: a base64 data: URL becomes inline data; an http,
// https or gs URL becomes file data whose MIME type is guessed from the path's extension.
func imagePart(param string, img *chat.ImageURL) (part, error) {
	param += ".image_url.url"
	if img == nil || img.URL == "" {
		return part{}, apierr.Invalid(param, "%s must be set", param)
	}
	if mimeType, data, isData, err := provider.DataURL(param, img.URL); isData {
		if err != nil {
			return part{}, err
		}
		return part{InlineData: &blob{MimeType: mimeType, Data: data}}, nil
	}
	u, err := url.Parse(img.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "gs") || u.Host == "" {
		return part{}, apierr.Invalid(param, "%s must be an http, https, gs or base64 data: URL", param)
	}
	mimeType, ok := imageTypes[strings.ToLower(path.Ext(u.Path))]
	if !ok {
		return part{}, apierr.Invalid(param, "%s: gemini models need the image type; use a URL ending in .png, .jpg, .jpeg, .webp, .gif, .heic or .heif, or a data: URL", param)
	}
	return part{FileData: &fileData{MimeType: mimeType, FileURI: img.URL}}, nil
}

// toolResult translates tool messages[i] into a functionResponse part. Gemini identifies a
// result by the function's name, so the name is taken from the nearest earlier assistant tool
// call with the message's tool_call_id. The response is the tool's text when that is a JSON
// object, and {"content": text} otherwise.
func toolResult(msgs []chat.Message, i int) (part, error) {
	m := msgs[i]
	idParam := fmt.Sprintf("messages[%d].tool_call_id", i)
	if m.ToolCallID == "" {
		return part{}, apierr.Invalid(idParam, "tool messages[%d] must have tool_call_id", i)
	}
	name := ""
	for k := i - 1; k >= 0 && name == ""; k-- {
		if msgs[k].Role != chat.RoleAssistant {
			continue
		}
		for _, tc := range msgs[k].ToolCalls {
			if tc.ID == m.ToolCallID {
				name = tc.Function.Name
				break
			}
		}
	}
	if name == "" {
		return part{}, apierr.Invalid(idParam, "messages[%d]: no earlier assistant tool call has id %q; gemini models need the called function's name", i, m.ToolCallID)
	}
	parts, err := textParts(i, chat.RoleTool, m.Content)
	if err != nil {
		return part{}, err
	}
	var text strings.Builder
	for _, p := range parts {
		text.WriteString(p.Text)
	}
	response, err := toolResponse(text.String())
	if err != nil {
		return part{}, fmt.Errorf("gemini: encode tool result: %w", err)
	}
	return part{FunctionResponse: &functionResponse{Name: name, Response: response}}, nil
}

// toolResponse is a tool's text as a functionResponse.response object.
func toolResponse(text string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace([]byte(text))
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var buf bytes.Buffer
		if json.Compact(&buf, trimmed) == nil {
			return buf.Bytes(), nil
		}
	}
	return json.Marshal(map[string]string{"content": text})
}

// translateTools translates tools and tool_choice.
func translateTools(r *chat.Request) ([]tool, *toolConfig, error) {
	if len(r.Tools) == 0 {
		if tc := r.ToolChoice; tc != nil && (tc.Function != "" || tc.Mode == "required") {
			return nil, nil, apierr.Invalid("tool_choice", "tool_choice needs tools")
		}
		// Without tools, "none" and "auto" ask for nothing.
		return nil, nil, nil
	}
	decls := make([]functionDeclaration, 0, len(r.Tools))
	for i, t := range r.Tools {
		if (t.Type != "" && t.Type != "function") || t.Function.Name == "" {
			param := fmt.Sprintf("tools[%d]", i)
			return nil, nil, apierr.Invalid(param, "tools[%d] must be a function with a name", i)
		}
		d := functionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
		if !isNull(t.Function.Parameters) {
			d.ParametersJSONSchema = t.Function.Parameters
		}
		decls = append(decls, d)
	}
	var cfg *toolConfig
	if tc := r.ToolChoice; tc != nil {
		var fc functionCallingConfig
		switch {
		case tc.Function != "":
			fc = functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{tc.Function}}
		case tc.Mode == "auto":
			fc = functionCallingConfig{Mode: "AUTO"}
		case tc.Mode == "required":
			fc = functionCallingConfig{Mode: "ANY"}
		case tc.Mode == "none":
			fc = functionCallingConfig{Mode: "NONE"}
		default:
			return nil, nil, apierr.Invalid("tool_choice", `tool_choice must be "none", "auto", "required" or a function`)
		}
		cfg = &toolConfig{FunctionCallingConfig: fc}
	}
	return []tool{{FunctionDeclarations: decls}}, cfg, nil
}

// finishReason maps a Gemini finish reason to an OpenAI one; hasCalls reports whether the
// candidate called functions, which Gemini reports as STOP. The reasons that mean the model
// botched a function call are errors (see the package doc). Unknown reasons map to "stop": the
// answer did end, and a new reason must not fail a good answer.
func finishReason(reason string, hasCalls bool) (string, error) {
	switch reason {
	case "MAX_TOKENS":
		return chat.FinishLength, nil
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return chat.FinishContentFilter, nil
	case "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL":
		return "", &apierr.Error{
			Kind:    apierr.KindUpstreamBadResponse,
			Message: "the model produced an invalid function call; retry the request",
			Code:    "upstream_malformed_function_call",
			Cause:   fmt.Errorf("finish reason %s", reason),
		}
	}
	if hasCalls {
		return chat.FinishToolCalls, nil
	}
	return chat.FinishStop, nil // STOP, OTHER, LANGUAGE, FINISH_REASON_UNSPECIFIED, newer ones
}

// openAIUsage converts Gemini's usage. Thinking tokens are completion tokens (they are billed
// as output) and are also reported as reasoning tokens; tokens of tool-use prompts are billed as
// input and counted as prompt tokens.
func openAIUsage(u *usageMetadata) chat.Usage {
	if u == nil {
		u = &usageMetadata{}
	}
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	return chat.Usage{
		PromptTokens:            prompt,
		CompletionTokens:        completion,
		TotalTokens:             prompt + completion,
		PromptTokensDetails:     &chat.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &chat.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount},
	}
}

// answerParts collects a candidate's answer: its text (thought summaries excluded) and its
// function calls, whose ids are "call_<n>" numbered from *next across the whole answer.
func answerParts(c *content, next *int) (string, []chat.ToolCall, error) {
	if c == nil {
		return "", nil, nil
	}
	var text strings.Builder
	var calls []chat.ToolCall
	for _, p := range c.Parts {
		switch {
		case p.Thought:
			// Thought summaries are not part of an OpenAI answer.
		case p.FunctionCall != nil:
			args, err := argsText(p.FunctionCall.Args)
			if err != nil {
				return "", nil, err
			}
			calls = append(calls, chat.ToolCall{
				ID:       callID(*next, p.ThoughtSignature),
				Type:     "function",
				Function: chat.FunctionCall{Name: p.FunctionCall.Name, Arguments: args},
			})
			*next++
		default:
			text.WriteString(p.Text)
		}
	}
	return text.String(), calls, nil
}

// sigMark separates a tool call id from the thought signature it carries.
const sigMark = "__thought__"

// callID is the id of the n-th function call of an answer. A call with a thought signature
// carries it in its id, which OpenAI clients echo back unchanged in the assistant message's
// tool_calls, so that the signature reaches Gemini again with the call (Gemini 3 refuses a
// function call turn without it) while the gateway keeps no state. The signature is base64url
// encoded, so the id keeps to [A-Za-z0-9_-], as Anthropic requires of tool_use ids should the
// conversation move to another provider.
func callID(n int, signature string) string {
	id := fmt.Sprintf("call_%d", n)
	if signature != "" {
		id += sigMark + base64.RawURLEncoding.EncodeToString([]byte(signature))
	}
	return id
}

// signatureOf returns the thought signature a tool call id carries, or "".
func signatureOf(id string) string {
	_, enc, ok := strings.Cut(id, sigMark)
	if !ok {
		return ""
	}
	sig, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "" // not an id the gateway made: there is no signature to restore
	}
	return string(sig)
}

// argsText renders functionCall args as compact JSON arguments.
func argsText(args json.RawMessage) (string, error) {
	if isNull(args) {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, args); err != nil {
		return "", provider.BadResponse(fmt.Errorf("functionCall args: %w", err))
	}
	return buf.String(), nil
}

// completion translates a GenerateContentResponse into a chat.completion created at now. A
// prompt Gemini blocked (no candidates, promptFeedback.blockReason set) is one empty choice that
// finished with "content_filter".
func completion(r *generateResponse, id, model string, now time.Time) ([]byte, chat.Usage, error) {
	var choices []chat.Choice
	next := 0
	for i, c := range r.Candidates {
		text, calls, err := answerParts(c.Content, &next)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		reason, err := finishReason(c.FinishReason, len(calls) > 0)
		if err != nil {
			return nil, chat.Usage{}, err
		}
		msg := chat.Message{Role: chat.RoleAssistant, ToolCalls: calls}
		if text != "" || len(calls) == 0 {
			msg.Content = chat.TextContent(text)
		}
		index := c.Index
		if index == 0 {
			index = int64(i)
		}
		choices = append(choices, chat.Choice{Index: index, Message: msg, FinishReason: reason})
	}
	if len(choices) == 0 {
		if r.PromptFeedback == nil || r.PromptFeedback.BlockReason == "" {
			return nil, chat.Usage{}, provider.BadResponse(fmt.Errorf("answer has no candidates"))
		}
		choices = []chat.Choice{{Message: chat.Message{Role: chat.RoleAssistant, Content: chat.TextContent("")}, FinishReason: chat.FinishContentFilter}}
	}
	u := openAIUsage(r.UsageMetadata)
	out, err := json.Marshal(chat.Response{
		ID:      id,
		Object:  "chat.completion",
		Created: now.Unix(),
		Model:   model,
		Choices: choices,
		Usage:   &u,
	})
	if err != nil {
		return nil, chat.Usage{}, fmt.Errorf("gemini: encode completion: %w", err)
	}
	return out, u, nil
}
