// Package provideranthropic is the provider adapter for Anthropic's Messages API
// (POST /v1/messages, anthropic-version 2023-06-01). It translates the gateway's OpenAI-shaped
// chat requests into Messages requests and Anthropic's answers and event streams back into
// OpenAI chat.completion and chat.completion.chunk objects. It does not implement
// provider.Embedder: Anthropic has no embeddings API.
//
// # Request translation
//
// System and developer messages become the top-level system prompt, one text block per message,
// in order. Consecutive messages of the same role are merged into one, since Anthropic requires
// user and assistant turns to alternate; tool messages become tool_result blocks of a user turn.
// Assistant tool calls become tool_use blocks whose input is the parsed arguments JSON. Image
// parts become base64 image blocks (data: URLs) or url image blocks (http and https URLs); the
// OpenAI image detail has no Anthropic equivalent and is not sent. max_tokens, which Anthropic
// requires, is max_completion_tokens, else max_tokens, else [DefaultMaxTokens].
//
// # Parameters Anthropic cannot honour
//
// A request parameter that would change the answer and that Anthropic cannot honour is never
// silently dropped: the request fails with an invalid-request error (HTTP 400) whose param names
// it and whose message says "<param> is not supported by anthropic models". That covers n > 1,
// logprobs, top_logprobs, logit_bias, presence_penalty, frequency_penalty, seed, response_format
// json_object (JSON without a schema: Anthropic constrains output only by schema) and
// reasoning_effort. A parameter set to its no-op value (n = 1, logprobs = false, top_logprobs =
// 0, a zero penalty, an empty logit_bias, response_format text) asks for nothing and is
// accepted.
//
// Structured output is translated: response_format json_schema becomes output_config.format
// {"type": "json_schema", "schema": ...} (its name and description have no place there), and a
// tool's function.strict becomes the tool's strict. Models older than Anthropic's structured
// outputs refuse them upstream, which maps as any upstream 400. OpenAI's metadata and message names,
// which do not change the answer, are not sent; user is sent as metadata.user_id, hashed
// (Anthropic asks for an opaque id, and OpenAI clients often send an email).
//
// # Answer translation
//
// Text blocks are concatenated into the message content and tool_use blocks become tool calls.
// Thinking and redacted_thinking blocks (and their thinking_delta and signature_delta stream
// events) have no place in an OpenAI answer and are dropped. Stop reasons map to finish reasons:
// end_turn, stop_sequence and pause_turn to "stop", max_tokens and
// model_context_window_exceeded to "length", tool_use to "tool_calls", refusal to
// "content_filter". Prompt tokens count input, cache-read and cache-creation tokens; the
// cache-read tokens are also reported as prompt_tokens_details.cached_tokens.
//
// A stream ends cleanly only after Anthropic's message_stop event, which is followed by a
// usage-only chunk. An error event, or a stream that ends before message_stop, makes Recv return
// an error, never io.EOF.
package provideranthropic
