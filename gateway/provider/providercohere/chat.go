package providercohere

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

// translateRequest turns an OpenAI request into a /v2/chat request for model. Errors are
// *apierr.Error of kind InvalidRequest naming the offending parameter.
func translateRequest(r *chat.Request, model string) (*chatRequest, error) {
	if err := checkSupported(r); err != nil {
		return nil, err
	}
	out := &chatRequest{
		Model:            model,
		Temperature:      r.Temperature,
		P:                r.TopP,
		Seed:             r.Seed,
		FrequencyPenalty: r.FrequencyPenalty,
		PresencePenalty:  r.PresencePenalty,
		StopSequences:    r.Stop,
	}
	out.MaxTokens = provider.MaxTokens(r)
	var err error
	if f := r.ResponseFormat; f != nil {
		switch f.Type {
		case "json_object":
			out.ResponseFormat = &responseFormat{Type: "json_object"}
		case "json_schema":
			if f.JSONSchema == nil || len(bytes.TrimSpace(f.JSONSchema.Schema)) == 0 {
				return nil, apierr.Invalid("response_format.json_schema.schema", "response_format json_schema needs a schema for cohere models")
			}
			out.ResponseFormat = &responseFormat{Type: "json_object", JSONSchema: f.JSONSchema.Schema}
		}
		// "text" is the default and asks for nothing.
	}
	if out.Messages, err = translateMessages(r.Messages); err != nil {
		return nil, err
	}
	if out.Tools, out.StrictTools, out.ToolChoice, err = translateTools(r); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSupported rejects the parameters Cohere cannot honour when they ask for something.
func checkSupported(r *chat.Request) error {
	return provider.Unsupported(r, "cohere", provider.ParamN, provider.ParamLogprobs, provider.ParamTopLogprobs, provider.ParamLogitBias, provider.ParamReasoningEffort, provider.ParamSequentialToolCalls)
}

// translateMessages translates the messages one to one: Cohere has the same four roles and no
// alternation rule.
func translateMessages(msgs []chat.Message) ([]message, error) {
	out := make([]message, 0, len(msgs))
	for i, m := range msgs {
		switch m.Role {
		case chat.RoleSystem, chat.RoleDeveloper:
			text, err := textOnly(i, m.Role, m.Content)
			if err != nil {
				return nil, err
			}
			out = append(out, message{Role: chat.RoleSystem, Content: &content{Text: text}})
		case chat.RoleUser:
			c, err := userContent(i, m.Content)
			if err != nil {
				return nil, err
			}
			out = append(out, message{Role: chat.RoleUser, Content: c})
		case chat.RoleAssistant:
			text, err := textOnly(i, m.Role, m.Content)
			if err != nil {
				return nil, err
			}
			if text == "" {
				text = m.Refusal
			}
			am := message{Role: chat.RoleAssistant}
			if len(m.ToolCalls) == 0 {
				am.Content = &content{Text: text}
				out = append(out, am)
				continue
			}
			// Cohere's tool-calling turn is a tool_plan with tool_calls; the text an OpenAI
			// assistant says before calling tools is that plan (and answers map it back).
			am.ToolPlan = text
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Function.Name == "" {
					param := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
					return nil, apierr.Invalid(param, "%s must have an id and a function name", param)
				}
				args := tc.Function.Arguments
				if strings.TrimSpace(args) == "" {
					args = "{}"
				}
				am.ToolCalls = append(am.ToolCalls, toolCall{ID: tc.ID, Type: "function", Function: functionCall{Name: tc.Function.Name, Arguments: args}})
			}
			out = append(out, am)
		case chat.RoleTool:
			if m.ToolCallID == "" {
				param := fmt.Sprintf("messages[%d].tool_call_id", i)
				return nil, apierr.Invalid(param, "tool messages[%d] must have tool_call_id", i)
			}
			text, err := textOnly(i, m.Role, m.Content)
			if err != nil {
				return nil, err
			}
			out = append(out, message{Role: chat.RoleTool, ToolCallID: m.ToolCallID, Content: &content{Text: text}})
		default:
			param := fmt.Sprintf("messages[%d].role", i)
			return nil, apierr.Invalid(param, "messages[%d] has unknown role %q", i, m.Role)
		}
	}
	return out, nil
}

// textOnly returns the text of messages[i], whose role takes only text at Cohere.
func textOnly(i int, role string, c *chat.Content) (string, error) {
	if c == nil {
		return "", nil
	}
	for j, p := range c.Parts {
		if p.Type != chat.PartText || p.Raw != nil {
			param := fmt.Sprintf("messages[%d].content[%d]", i, j)
			return "", apierr.Invalid(param, "%s: %s messages may hold only text for cohere models", param, role)
		}
	}
	return c.String(), nil
}

// userContent translates the content of user messages[i]: a string stays a string; parts
// become text and image_url parts.
func userContent(i int, c *chat.Content) (*content, error) {
	if c == nil {
		return &content{}, nil
	}
	if c.Parts == nil {
		return &content{Text: c.Text}, nil
	}
	parts := make([]part, 0, len(c.Parts))
	for j, p := range c.Parts {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		if p.Raw != nil {
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by cohere models", param, p.Type)
		}
		switch p.Type {
		case chat.PartText:
			parts = append(parts, part{Type: "text", Text: p.Text})
		case chat.PartImage:
			img, err := imagePart(param, p.ImageURL)
			if err != nil {
				return nil, err
			}
			parts = append(parts, img)
		default:
			return nil, apierr.Invalid(param, "%s: content part type %q is not supported by cohere models", param, p.Type)
		}
	}
	return &content{Parts: parts}, nil
}

// imagePart checks an image_url part: Cohere takes base64 data: URLs and http and https URLs,
// with OpenAI's detail values.
func imagePart(param string, img *chat.ImageURL) (part, error) {
	param += ".image_url.url"
	if img == nil || img.URL == "" {
		return part{}, apierr.Invalid(param, "%s must be set", param)
	}
	if !strings.HasPrefix(img.URL, "data:") {
		u, err := url.Parse(img.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return part{}, apierr.Invalid(param, "%s must be an http, https or base64 data: URL", param)
		}
	}
	return part{Type: "image_url", ImageURL: &imageURL{URL: img.URL, Detail: img.Detail}}, nil
}

// translateTools translates tools, tool_choice and the tools' strict flags.
func translateTools(r *chat.Request) (tools []tool, strict bool, choice string, err error) {
	if len(r.Tools) == 0 {
		if tc := r.ToolChoice; tc != nil && (tc.Function != "" || tc.Mode == "required") {
			return nil, false, "", apierr.Invalid("tool_choice", "tool_choice needs tools")
		}
		// Without tools, "none" and "auto" ask for nothing.
		return nil, false, "", nil
	}
	tools = make([]tool, 0, len(r.Tools))
	numStrict := 0
	for i, t := range r.Tools {
		if (t.Type != "" && t.Type != "function") || t.Function.Name == "" {
			param := fmt.Sprintf("tools[%d]", i)
			return nil, false, "", apierr.Invalid(param, "tools[%d] must be a function with a name", i)
		}
		if t.Function.Strict != nil && *t.Function.Strict {
			numStrict++
		}
		params := t.Function.Parameters
		if s := bytes.TrimSpace(params); bytes.Equal(s, []byte("null")) {
			params = nil
		}
		tools = append(tools, tool{Type: "function", Function: toolFunction{Name: t.Function.Name, Description: t.Function.Description, Parameters: params}})
	}
	// Cohere's strict_tools holds for every tool of a request or for none.
	if numStrict > 0 && numStrict < len(r.Tools) {
		for i, t := range r.Tools {
			if t.Function.Strict == nil || !*t.Function.Strict {
				param := fmt.Sprintf("tools[%d].function.strict", i)
				return nil, false, "", apierr.Invalid(param, "%s must be true like the other tools' strict: cohere models make all tools strict or none", param)
			}
		}
	}
	if tc := r.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			return nil, false, "", apierr.Invalid("tool_choice", "tool_choice naming a function is not supported by cohere models; use \"required\"")
		case tc.Mode == "required":
			choice = "REQUIRED"
		case tc.Mode == "none":
			choice = "NONE"
		}
		// "auto" is Cohere's default, sent as no tool_choice.
	}
	return tools, numStrict > 0, choice, nil
}

// openAIUsage converts Cohere's usage: the billed counts, else the model's token counts.
// Cohere bills billed_units, which leave out the tokens of its own prompt template that
// tokens counts; priced, they are what the account is charged.
func openAIUsage(u *usage) chat.Usage {
	if u == nil {
		return chat.Usage{}
	}
	c := u.BilledUnits
	if c == nil || (c.InputTokens == 0 && c.OutputTokens == 0) {
		c = u.Tokens
	}
	if c == nil {
		return chat.Usage{}
	}
	in, out := int64(c.InputTokens), int64(c.OutputTokens)
	return chat.Usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}
}

// completion translates a /v2/chat answer into a chat.completion of model created at now.
func completion(r *chatResponse, model string, now time.Time) ([]byte, chat.Usage, error) {
	finish, failed := finishReason(r.FinishReason)
	if failed {
		return nil, chat.Usage{}, finishError(r.FinishReason, "")
	}
	text := r.Message.ToolPlan
	for _, p := range r.Message.Content {
		if p.Type == "text" {
			text += p.Text
		}
		// Thinking parts have no place in an OpenAI answer.
	}
	var calls []chat.ToolCall
	for _, tc := range r.Message.ToolCalls {
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		calls = append(calls, chat.ToolCall{ID: tc.ID, Type: "function", Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: args}})
	}
	msg := chat.Message{Role: chat.RoleAssistant, ToolCalls: calls}
	if text != "" || len(calls) == 0 {
		msg.Content = chat.TextContent(text)
	}
	u := openAIUsage(r.Usage)
	out, err := json.Marshal(chat.Response{
		ID:      r.ID,
		Object:  "chat.completion",
		Created: now.Unix(),
		Model:   model,
		Choices: []chat.Choice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:   &u,
	})
	if err != nil {
		return nil, chat.Usage{}, fmt.Errorf("cohere: encode completion: %w", err)
	}
	return out, u, nil
}
