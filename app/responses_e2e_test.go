package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/llmgw/llmgw/gateway/provider/providertest"
)

// TestResponsesAPI drives /v1/responses with the official SDK, translated through the chat
// pipeline to an OpenAI-compatible upstream (text) and to Anthropic (tools).
func TestResponsesAPI(t *testing.T) {
	up := providertest.NewOpenAI(t)
	ant := providertest.NewAnthropic(t, "sk-ant-responses")
	cfg := fmt.Sprintf(`
- name: oai
  type: provider-account/openai
  base_url: %q
  auth_data: {type: api-key, api_key: env://OAI_KEY}
  integrations:
    - {name: gpt, type: integration/model/openai, model_id: gpt-4o-mini}
    - {name: cut, type: integration/model/openai, model_id: fake-cut}
- name: claude
  type: provider-account/anthropic
  base_url: %q
  auth_data: {type: api-key, api_key: env://ANT_KEY}
  integrations:
    - {name: sonnet, type: integration/model/anthropic, model_id: claude-sonnet-4-5}
`, up.BaseURL(), ant.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, map[string]string{"OAI_KEY": "sk-oai", "ANT_KEY": "sk-ant-responses"}, "--config", path)
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1"), option.WithAPIKey(g.Token), option.WithMaxRetries(0))
	ctx := context.Background()

	t.Run("text", func(t *testing.T) {
		resp, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model:        "oai/gpt",
			Instructions: openai.String("be brief"),
			Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("hello responses")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.OutputText(); got != "echo: hello responses" || resp.Status != "completed" {
			t.Errorf("output %q status %q", got, resp.Status)
		}
		if resp.Usage.InputTokens != 11 || resp.Usage.InputTokensDetails.CachedTokens != 3 || resp.Usage.OutputTokensDetails.ReasoningTokens != 2 {
			t.Errorf("usage %+v", resp.Usage)
		}
		msgs := up.LastRequest().Body["messages"].([]any)
		if first := msgs[0].(map[string]any); first["role"] != "system" || first["content"] != "be brief" {
			t.Errorf("instructions not sent as the system message: %v", msgs)
		}
	})

	t.Run("streamed text", func(t *testing.T) {
		stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
			Model: "oai/gpt",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("one two three")},
		})
		var deltas strings.Builder
		var completed *responses.Response
		var last int64 = -1
		for stream.Next() {
			ev := stream.Current()
			if ev.SequenceNumber != last+1 {
				t.Errorf("sequence %d after %d", ev.SequenceNumber, last)
			}
			last = ev.SequenceNumber
			switch ev.Type {
			case "response.output_text.delta":
				deltas.WriteString(ev.AsResponseOutputTextDelta().Delta)
			case "response.completed":
				r := ev.AsResponseCompleted().Response
				completed = &r
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if deltas.String() != "echo: one two three" || completed == nil || completed.OutputText() != "echo: one two three" || completed.Usage.TotalTokens != 18 {
			t.Errorf("deltas %q completed %+v", deltas.String(), completed)
		}
	})

	weather := responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
		Name: "get_weather", Strict: openai.Bool(false),
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
	}}

	t.Run("tool call and its output round trip", func(t *testing.T) {
		resp, err := c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "claude/sonnet",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("what is the weather in Paris")},
			Tools: []responses.ToolUnionParam{weather},
		})
		if err != nil {
			t.Fatal(err)
		}
		var call responses.ResponseFunctionToolCall
		for _, item := range resp.Output {
			if item.Type == "function_call" {
				call = item.AsFunctionCall()
			}
		}
		if call.Name != "get_weather" || call.Arguments != `{"city":"Paris"}` || call.CallID != "toolu_01" {
			t.Fatalf("function call %+v in %s", call, resp.RawJSON())
		}
		out := responses.ResponseInputItemParamOfFunctionCallOutput("18C and sunny")
		out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
		resp, err = c.Responses.New(ctx, responses.ResponseNewParams{
			Model: "claude/sonnet",
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage("what is the weather in Paris", responses.EasyInputMessageRoleUser),
				responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
				out,
			}},
			Tools: []responses.ToolUnionParam{weather},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.OutputText(), "18C and sunny") {
			t.Errorf("answer %q does not use the tool output", resp.OutputText())
		}
		if got := ant.LastRequest().Raw; !strings.Contains(string(got), `"tool_use_id":"toolu_01"`) {
			t.Errorf("the tool result did not reach the upstream: %s", got)
		}
	})

	t.Run("streamed tool call", func(t *testing.T) {
		stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
			Model: "claude/sonnet",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather please")},
			Tools: []responses.ToolUnionParam{weather},
		})
		var args strings.Builder
		var done bool
		for stream.Next() {
			ev := stream.Current()
			switch ev.Type {
			case "response.function_call_arguments.delta":
				args.WriteString(ev.AsResponseFunctionCallArgumentsDelta().Delta)
			case "response.completed":
				done = true
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if args.String() != `{"city": "Paris"}` || !done {
			t.Errorf("arguments %q, completed %v", args.String(), done)
		}
	})

	t.Run("a stream cut upstream ends with an error event", func(t *testing.T) {
		stream := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{
			Model: "oai/cut",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("a b c d e")},
		})
		seen := map[string]bool{}
		for stream.Next() {
			seen[stream.Current().Type] = true
		}
		if !seen["error"] || !seen["response.failed"] || seen["response.completed"] || !seen["response.output_text.delta"] {
			t.Errorf("events %v; want text, then error and response.failed, never response.completed (err %v)", seen, stream.Err())
		}
	})

	t.Run("what a stateless gateway cannot do is a 400 naming it", func(t *testing.T) {
		tests := []struct {
			name   string
			params responses.ResponseNewParams
			param  string
		}{
			{"store", responses.ResponseNewParams{Model: "oai/gpt", Store: openai.Bool(true), Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}}, "store"},
			{"previous response", responses.ResponseNewParams{Model: "oai/gpt", PreviousResponseID: openai.String("resp_1"), Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}}, "previous_response_id"},
			{"hosted tool", responses.ResponseNewParams{Model: "oai/gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")},
				Tools: []responses.ToolUnionParam{{OfWebSearch: &responses.WebSearchToolParam{Type: responses.WebSearchToolTypeWebSearch}}}}, "tools[0].type"},
		}
		for _, tt := range tests {
			_, err := c.Responses.New(ctx, tt.params)
			e := apiError(t, err)
			if e.StatusCode != 400 || e.Param != tt.param {
				t.Errorf("%s: status %d param %q, want 400 %q", tt.name, e.StatusCode, e.Param, tt.param)
			}
		}
	})
}
