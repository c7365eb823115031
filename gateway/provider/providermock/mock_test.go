package providermock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/provider"
)

func req(msgs ...chat.Message) *provider.ChatCall {
	return &provider.ChatCall{Request: &chat.Request{Model: "mock/echo", Messages: msgs}}
}

func TestChatEchoesTheLastUserMessage(t *testing.T) {
	a, err := New(provider.Config{Model: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Chat(context.Background(), req(
		chat.Message{Role: "system", Content: chat.TextContent("be nice")},
		chat.Message{Role: "user", Content: chat.TextContent("first")},
		chat.Message{Role: "assistant", Content: chat.TextContent("ok")},
		chat.Message{Role: "user", Content: &chat.Content{Parts: []chat.Part{{Type: "text", Text: "last "}, {Type: "image_url", ImageURL: &chat.ImageURL{URL: "data:x"}}, {Type: "text", Text: "words"}}}},
	))
	if err != nil {
		t.Fatal(err)
	}
	var resp chat.Response
	if err := json.Unmarshal(res.JSON, &resp); err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "last words" {
		t.Errorf("content %q", got)
	}
	if res.Usage != (chat.Usage{PromptTokens: 6, CompletionTokens: 2, TotalTokens: 8}) || *resp.Usage != res.Usage {
		t.Errorf("usage %+v / %+v", res.Usage, resp.Usage)
	}
}

func TestStreamWordByWord(t *testing.T) {
	a, _ := New(provider.Config{Model: "echo"})
	st, err := a.ChatStream(context.Background(), req(chat.Message{Role: "user", Content: chat.TextContent("a b c")}))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var finish string
	var usage *chat.Usage
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var c chat.Chunk
		if err := json.Unmarshal(ch.JSON, &c); err != nil {
			t.Fatal(err)
		}
		if ch.UsageOnly {
			usage = ch.Usage
			if len(c.Choices) != 0 || c.Usage == nil {
				t.Errorf("usage chunk %s", ch.JSON)
			}
			continue
		}
		if d := c.Choices[0].Delta.Content; d != nil {
			text.WriteString(*d)
		}
		if f := c.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if text.String() != "a b c" || finish != "stop" || usage == nil || usage.CompletionTokens != 3 {
		t.Errorf("text %q finish %q usage %+v", text.String(), finish, usage)
	}
}

func TestEmbedIsDeterministicUnitVectors(t *testing.T) {
	a, _ := New(provider.Config{Model: "embed"})
	dims := int64(8)
	res, err := a.Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Model: "mock/embed", Input: chat.Input{"x y", "z"}, Dimensions: &dims}})
	if err != nil {
		t.Fatal(err)
	}
	var resp chat.EmbeddingResponse
	if err := json.Unmarshal(res.JSON, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 8 || res.Usage.PromptTokens != 3 {
		t.Fatalf("resp %+v usage %+v", resp, res.Usage)
	}
	var norm float64
	for i, v := range resp.Data[0].Embedding {
		norm += float64(v) * float64(v)
		if v != Vector("x y", 8)[i] {
			t.Fatal("not deterministic")
		}
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("norm %v, want 1", norm)
	}
	bad := int64(0)
	if _, err := a.Embed(context.Background(), &provider.EmbedCall{Request: &chat.EmbeddingRequest{Input: chat.Input{"x"}, Dimensions: &bad}}); err == nil {
		t.Error("dimensions 0 accepted")
	}
}

func TestCanceledContext(t *testing.T) {
	a, _ := New(provider.Config{Model: "echo"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Chat(ctx, req(chat.Message{Role: "user", Content: chat.TextContent("x")})); err == nil {
		t.Error("Chat ignored a canceled context")
	}
}
