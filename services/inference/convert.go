package inference

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/chat"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
)

var roles = map[inferencev1.Role]string{
	inferencev1.Role_ROLE_SYSTEM:    chat.RoleSystem,
	inferencev1.Role_ROLE_DEVELOPER: chat.RoleDeveloper,
	inferencev1.Role_ROLE_USER:      chat.RoleUser,
	inferencev1.Role_ROLE_ASSISTANT: chat.RoleAssistant,
	inferencev1.Role_ROLE_TOOL:      chat.RoleTool,
}

var rolesBack = map[string]inferencev1.Role{
	chat.RoleSystem:    inferencev1.Role_ROLE_SYSTEM,
	chat.RoleDeveloper: inferencev1.Role_ROLE_DEVELOPER,
	chat.RoleUser:      inferencev1.Role_ROLE_USER,
	chat.RoleAssistant: inferencev1.Role_ROLE_ASSISTANT,
	chat.RoleTool:      inferencev1.Role_ROLE_TOOL,
}

var finishReasons = map[string]inferencev1.FinishReason{
	chat.FinishStop:          inferencev1.FinishReason_FINISH_REASON_STOP,
	chat.FinishLength:        inferencev1.FinishReason_FINISH_REASON_LENGTH,
	chat.FinishToolCalls:     inferencev1.FinishReason_FINISH_REASON_TOOL_CALLS,
	chat.FinishContentFilter: inferencev1.FinishReason_FINISH_REASON_CONTENT_FILTER,
}

func structJSON(s *structpb.Struct) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return protojson.Marshal(s)
}

func i64(v *int32) *int64 {
	if v == nil {
		return nil
	}
	x := int64(*v)
	return &x
}

// requestFromProto converts a typed request into the chat lingua franca and validates it the
// same way the OpenAI surface does.
func requestFromProto(in *inferencev1.ChatCompletionRequest) (*chat.Request, error) {
	r := &chat.Request{
		Model:               in.GetModel(),
		Temperature:         in.Temperature,
		TopP:                in.TopP,
		MaxTokens:           i64(in.MaxTokens),
		MaxCompletionTokens: i64(in.MaxCompletionTokens),
		N:                   i64(in.N),
		Stop:                in.GetStop(),
		Seed:                in.Seed,
		PresencePenalty:     in.PresencePenalty,
		FrequencyPenalty:    in.FrequencyPenalty,
		User:                in.GetUser(),
		Metadata:            in.GetMetadata(),
		ParallelToolCalls:   in.ParallelToolCalls,
		Logprobs:            in.Logprobs,
		TopLogprobs:         i64(in.TopLogprobs),
		ReasoningEffort:     in.GetReasoningEffort(),
	}
	for i, m := range in.GetMessages() {
		role, ok := roles[m.GetRole()]
		if !ok {
			return nil, apierr.Invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d] must have a role", i)
		}
		msg := chat.Message{Role: role, Name: m.GetName(), ToolCallID: m.GetToolCallId(), Refusal: m.GetRefusal()}
		if parts := m.GetContent(); len(parts) == 1 && parts[0].GetImageUrl() == nil {
			msg.Content = chat.TextContent(parts[0].GetText())
		} else if len(parts) > 0 {
			c := &chat.Content{Parts: make([]chat.Part, 0, len(parts))}
			for _, p := range parts {
				if img := p.GetImageUrl(); img != nil {
					c.Parts = append(c.Parts, chat.Part{Type: chat.PartImage, ImageURL: &chat.ImageURL{URL: img.GetUrl(), Detail: img.GetDetail()}})
				} else {
					c.Parts = append(c.Parts, chat.Part{Type: chat.PartText, Text: p.GetText()})
				}
			}
			msg.Content = c
		}
		for _, tc := range m.GetToolCalls() {
			typ := tc.GetType()
			if typ == "" {
				typ = "function"
			}
			msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: tc.GetId(), Type: typ, Function: chat.FunctionCall{Name: tc.GetFunction().GetName(), Arguments: tc.GetFunction().GetArguments()}})
		}
		r.Messages = append(r.Messages, msg)
	}
	for i, t := range in.GetTools() {
		params, err := structJSON(t.GetFunction().GetParameters())
		if err != nil {
			return nil, apierr.Invalid(fmt.Sprintf("tools[%d].function.parameters", i), "invalid parameters schema")
		}
		typ := t.GetType()
		if typ == "" {
			typ = "function"
		}
		r.Tools = append(r.Tools, chat.Tool{Type: typ, Function: chat.Function{
			Name: t.GetFunction().GetName(), Description: t.GetFunction().GetDescription(), Parameters: params, Strict: t.GetFunction().Strict,
		}})
	}
	if tc := in.GetToolChoice(); tc != nil {
		switch {
		case tc.GetFunctionName() != "":
			r.ToolChoice = &chat.ToolChoice{Function: tc.GetFunctionName()}
		case tc.GetMode() == inferencev1.ToolChoiceMode_TOOL_CHOICE_MODE_NONE:
			r.ToolChoice = &chat.ToolChoice{Mode: "none"}
		case tc.GetMode() == inferencev1.ToolChoiceMode_TOOL_CHOICE_MODE_AUTO:
			r.ToolChoice = &chat.ToolChoice{Mode: "auto"}
		case tc.GetMode() == inferencev1.ToolChoiceMode_TOOL_CHOICE_MODE_REQUIRED:
			r.ToolChoice = &chat.ToolChoice{Mode: "required"}
		}
	}
	if rf := in.GetResponseFormat(); rf != nil {
		switch rf.GetType() {
		case inferencev1.ResponseFormatType_RESPONSE_FORMAT_TYPE_TEXT:
			r.ResponseFormat = &chat.ResponseFormat{Type: "text"}
		case inferencev1.ResponseFormatType_RESPONSE_FORMAT_TYPE_JSON_OBJECT:
			r.ResponseFormat = &chat.ResponseFormat{Type: "json_object"}
		case inferencev1.ResponseFormatType_RESPONSE_FORMAT_TYPE_JSON_SCHEMA:
			js := rf.GetJsonSchema()
			schema, err := structJSON(js.GetSchema())
			if err != nil {
				return nil, apierr.Invalid("response_format.json_schema.schema", "invalid schema")
			}
			r.ResponseFormat = &chat.ResponseFormat{Type: "json_schema", JSONSchema: &chat.JSONSchema{
				Name: js.GetName(), Description: js.GetDescription(), Schema: schema, Strict: js.Strict,
			}}
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func usageToProto(u *chat.Usage) *inferencev1.Usage {
	if u == nil {
		return nil
	}
	return &inferencev1.Usage{
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens,
		CachedTokens: u.CachedTokens(), ReasoningTokens: u.ReasoningTokens(),
	}
}

func toolCallsToProto(in []chat.ToolCall) []*inferencev1.ToolCall {
	var out []*inferencev1.ToolCall
	for _, tc := range in {
		out = append(out, &inferencev1.ToolCall{Id: tc.ID, Type: tc.Type, Function: &inferencev1.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
	}
	return out
}

func messageToProto(m *chat.Message) *inferencev1.Message {
	out := &inferencev1.Message{Role: rolesBack[m.Role], Name: m.Name, ToolCallId: m.ToolCallID, Refusal: m.Refusal, ToolCalls: toolCallsToProto(m.ToolCalls)}
	if m.Content != nil {
		out.Content = []*inferencev1.ContentPart{{Part: &inferencev1.ContentPart_Text{Text: m.Content.String()}}}
	}
	return out
}

func responseToProto(r *chat.Response) *inferencev1.ChatCompletionResponse {
	out := &inferencev1.ChatCompletionResponse{Id: r.ID, Created: r.Created, Model: r.Model, Usage: usageToProto(r.Usage), SystemFingerprint: r.SystemFingerprint}
	for i := range r.Choices {
		c := &r.Choices[i]
		out.Choices = append(out.Choices, &inferencev1.Choice{Index: int32(c.Index), Message: messageToProto(&c.Message), FinishReason: finishReasons[c.FinishReason]})
	}
	return out
}

func chunkToProto(c *chat.Chunk) *inferencev1.StreamChatCompletionResponse {
	out := &inferencev1.StreamChatCompletionResponse{Id: c.ID, Created: c.Created, Model: c.Model, Usage: usageToProto(c.Usage)}
	for _, ch := range c.Choices {
		d := &inferencev1.Delta{Role: rolesBack[ch.Delta.Role]}
		if ch.Delta.Content != nil {
			d.Content = *ch.Delta.Content
		}
		if ch.Delta.Refusal != nil {
			d.Refusal = *ch.Delta.Refusal
		}
		for _, tc := range ch.Delta.ToolCalls {
			d.ToolCalls = append(d.ToolCalls, &inferencev1.ToolCallDelta{Index: int32(tc.Index), Id: tc.ID, Type: tc.Type, Function: &inferencev1.FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
		}
		cc := &inferencev1.ChunkChoice{Index: int32(ch.Index), Delta: d}
		if ch.FinishReason != nil {
			cc.FinishReason = finishReasons[*ch.FinishReason]
		}
		out.Choices = append(out.Choices, cc)
	}
	return out
}
