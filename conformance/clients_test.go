package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// pngBase64 is a 1x1 PNG.
const pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

// The request parts every dialect sends, in its own form.
const (
	question      = "What is the weather in Paris?"
	imageQuestion = "What is in this image?"
)

// cityParams is the JSON schema of the tool's parameters and of the JSON output.
var cityParams = map[string]any{
	"type":                 "object",
	"properties":           map[string]any{"city": map[string]any{"type": "string"}},
	"required":             []string{"city"},
	"additionalProperties": false,
}

// openAIAPIError converts the openai-go error of a failed call.
func openAIAPIError(err error) error {
	var e *openai.Error
	if !errors.As(err, &e) {
		return err
	}
	ae := &apiError{status: e.StatusCode, param: e.Param, raw: e.RawJSON()}
	if e.Response != nil {
		ae.retryAfter = e.Response.Header.Get("Retry-After")
	}
	return ae
}

// chatClient is the OpenAI Chat Completions dialect (openai-go: Chat.Completions.New and
// NewStreaming with the accumulator).
type chatClient struct {
	c openai.Client
}

func newChatClient(url string) *chatClient {
	return &chatClient{c: openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(adminToken), option.WithMaxRetries(0))}
}

func (c *chatClient) send(ctx context.Context, r request) (*reply, error) {
	p := openai.ChatCompletionNewParams{Model: r.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(question)}}
	if r.tools {
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: ToolName, Description: openai.String("Current weather of a city"), Parameters: cityParams,
		})}
	}
	if r.image {
		p.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart(imageQuestion),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64," + pngBase64}),
		})}
	}
	if r.json {
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "city", Schema: cityParams, Strict: openai.Bool(true)},
		}}
	}
	rep := &reply{}
	var comp openai.ChatCompletion
	if !r.stream {
		resp, err := c.c.Chat.Completions.New(ctx, p)
		if err != nil {
			return nil, openAIAPIError(err)
		}
		comp = *resp
	} else {
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := c.c.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		events := 0
		for s.Next() {
			chunk := s.Current()
			events++
			acc.AddChunk(chunk)
			if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
				rep.deltas++
			}
		}
		if err := s.Err(); err != nil {
			if events > 0 {
				return nil, &streamError{err: err}
			}
			return nil, openAIAPIError(err)
		}
		comp = acc.ChatCompletion
	}
	if len(comp.Choices) != 1 {
		return nil, fmt.Errorf("%d choices, want 1", len(comp.Choices))
	}
	msg := comp.Choices[0].Message
	rep.text = msg.Content
	if len(msg.ToolCalls) > 0 {
		if len(msg.ToolCalls) != 1 {
			return nil, fmt.Errorf("%d tool calls, want 1", len(msg.ToolCalls))
		}
		rep.toolName, rep.toolArgs = msg.ToolCalls[0].Function.Name, msg.ToolCalls[0].Function.Arguments
	}
	rep.usage = usage{prompt: comp.Usage.PromptTokens, cached: comp.Usage.PromptTokensDetails.CachedTokens, completion: comp.Usage.CompletionTokens}
	return rep, nil
}

// messagesClient is the Anthropic Messages dialect (anthropic-sdk-go: Messages.New and
// NewStreaming with Message.Accumulate).
type messagesClient struct {
	c anthropic.Client
}

func newMessagesClient(url string) *messagesClient {
	return &messagesClient{c: anthropic.NewClient(anthropicoption.WithBaseURL(url), anthropicoption.WithAPIKey(adminToken), anthropicoption.WithMaxRetries(0))}
}

// anthropicAPIError converts the anthropic-sdk-go error of a failed call.
func anthropicAPIError(err error) error {
	var e *anthropic.Error
	if !errors.As(err, &e) {
		return err
	}
	ae := &apiError{status: e.StatusCode, raw: e.RawJSON()}
	if e.Response != nil {
		ae.retryAfter = e.Response.Header.Get("Retry-After")
	}
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(ae.raw), &body) == nil && ae.status == http.StatusBadRequest {
		if m := anthropicRefusal.FindStringSubmatch(body.Error.Message); m != nil {
			ae.param = m[1]
		}
	}
	return ae
}

func (c *messagesClient) send(ctx context.Context, r request) (*reply, error) {
	p := anthropic.MessageNewParams{Model: anthropic.Model(r.model), MaxTokens: 256,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question))}}
	if r.json {
		// Structured output: the answer follows the schema (output_config.format).
		p.OutputConfig = anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: cityParams}}
	}
	if r.tools {
		tool := anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{Properties: cityParams["properties"], Required: []string{"city"}}, ToolName)
		tool.OfTool.Description = anthropic.String("Current weather of a city")
		p.Tools = []anthropic.ToolUnionParam{tool}
	}
	if r.image {
		p.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(imageQuestion), anthropic.NewImageBlockBase64("image/png", pngBase64))}
	}
	rep := &reply{}
	var msg anthropic.Message
	if !r.stream {
		resp, err := c.c.Messages.New(ctx, p)
		if err != nil {
			return nil, anthropicAPIError(err)
		}
		msg = *resp
	} else {
		s := c.c.Messages.NewStreaming(ctx, p)
		events := 0
		for s.Next() {
			ev := s.Current()
			events++
			if err := msg.Accumulate(ev); err != nil {
				return nil, fmt.Errorf("accumulate %s: %w", ev.Type, err)
			}
			if ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" {
				rep.deltas++
			}
		}
		if err := s.Err(); err != nil {
			if events > 0 {
				return nil, &streamError{err: err}
			}
			return nil, anthropicAPIError(err)
		}
	}
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			rep.text += b.Text
		case "tool_use":
			if rep.toolName != "" {
				return nil, errors.New("more than one tool call, want 1")
			}
			rep.toolName, rep.toolArgs = b.Name, string(b.Input)
		}
	}
	u := msg.Usage
	rep.usage = usage{prompt: u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens, cached: u.CacheReadInputTokens, completion: u.OutputTokens}
	return rep, nil
}

// responsesClient is the OpenAI Responses dialect (openai-go: Responses.New and NewStreaming).
type responsesClient struct {
	c openai.Client
}

func newResponsesClient(url string) *responsesClient {
	return &responsesClient{c: openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey(adminToken), option.WithMaxRetries(0))}
}

func (c *responsesClient) send(ctx context.Context, r request) (*reply, error) {
	p := responses.ResponseNewParams{Model: r.model, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(question)}}
	if r.tools {
		p.Tools = []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
			Name: ToolName, Description: openai.String("Current weather of a city"), Parameters: cityParams, Strict: openai.Bool(false),
		}}}
	}
	if r.image {
		img := responses.ResponseInputContentParamOfInputImage(responses.ResponseInputImageDetailAuto)
		img.OfInputImage.ImageURL = openai.String("data:image/png;base64," + pngBase64)
		p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
				responses.ResponseInputContentParamOfInputText(imageQuestion), img,
			}, responses.EasyInputMessageRoleUser),
		}}
	}
	if r.json {
		p.Text = responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
			OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "city", Schema: cityParams, Strict: openai.Bool(true)},
		}}
	}
	rep := &reply{}
	var resp *responses.Response
	if !r.stream {
		var err error
		if resp, err = c.c.Responses.New(ctx, p); err != nil {
			return nil, openAIAPIError(err)
		}
	} else {
		s := c.c.Responses.NewStreaming(ctx, p)
		events := 0
		var failure error
		for s.Next() {
			ev := s.Current()
			events++
			switch ev.Type {
			case "response.output_text.delta":
				rep.deltas++
			case "response.completed":
				done := ev.AsResponseCompleted().Response
				resp = &done
			case "error":
				failure = fmt.Errorf("error event: %s", ev.RawJSON())
			case "response.failed":
				if failure == nil {
					failure = fmt.Errorf("response.failed: %s", ev.RawJSON())
				}
			}
		}
		if err := s.Err(); err != nil {
			if events > 0 {
				return nil, &streamError{err: err}
			}
			return nil, openAIAPIError(err)
		}
		if failure != nil {
			return nil, &streamError{err: failure}
		}
		if resp == nil {
			return nil, errors.New("the stream ended without response.completed")
		}
	}
	rep.text = resp.OutputText()
	for _, item := range resp.Output {
		if item.Type == "function_call" {
			if rep.toolName != "" {
				return nil, errors.New("more than one function call, want 1")
			}
			call := item.AsFunctionCall()
			rep.toolName, rep.toolArgs = call.Name, call.Arguments
		}
	}
	rep.usage = usage{prompt: resp.Usage.InputTokens, cached: resp.Usage.InputTokensDetails.CachedTokens, completion: resp.Usage.OutputTokens}
	return rep, nil
}
