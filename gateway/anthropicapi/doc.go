// Package anthropicapi serves Anthropic's Messages API surface: POST /v1/messages (streamed and
// not) and POST /v1/messages/count_tokens. Clients use Anthropic's SDKs, or Claude Code with
// ANTHROPIC_BASE_URL pointed at the gateway and a gateway key, against any configured model.
// Keys are accepted as x-api-key or Authorization: Bearer. Errors are written in Anthropic's
// error shape ({"type":"error","error":{"type","message"}}) by apierr.WriteAnthropic, with the
// kind's HTTP status; a message names the offending field, since the shape has no param.
//
// # Two paths
//
// The pipeline picks the path per target of the request's plan (pipeline.Translation): the
// surface hands it both forms and renders whichever stream comes back.
//
// A model whose adapter implements provider.MessagesAdapter (Anthropic's) gets the client's
// body as it is, with only the model patched, and the client gets Anthropic's answer and events
// byte for byte: thinking blocks and their signatures, cache_control, citations and block types
// newer than the gateway round-trip intact, and the anthropic-beta header is forwarded.
//
// Any other model gets the request translated into the gateway's OpenAI-shaped chat request
// (ToChat), run through the same pipeline as /v1/chat/completions, and the answer translated
// back (FromChat, Streamer):
//
//   - system (a string or text blocks) becomes system messages, one per block; text and image
//     blocks become content parts (base64 images as data: URLs); tool_use blocks become the
//     assistant's tool_calls with the input as compact JSON arguments; each tool_result becomes
//     a tool message, placed before the rest of its user turn, its content flattened to text
//     (text blocks joined by newlines; "Error: " first when is_error is set, since a tool
//     message has no error flag).
//   - tools map to functions, tool_choice any to "required", tool to the named function,
//     disable_parallel_tool_use to parallel_tool_calls false, a tool's strict to the function's
//     strict; output_config.format (structured output: a JSON schema) to response_format
//     json_schema; metadata.user_id to user; stop_sequences to stop; max_tokens to max_tokens.
//   - thinking and redacted_thinking blocks in the history are dropped: they are the model's
//     own earlier reasoning, signed by Anthropic, not user content, and no other provider can
//     take them back. cache_control marks are caching hints and are not sent.
//   - System turns inside messages (role "system", text only) become system messages.
//   - A parameter that would change the answer and that the chat dialect cannot express is a
//     400 naming it, never silently dropped: top_k, thinking "enabled" (thinking blocks within
//     a budget), server tools, block types other than text, image, tool_use, tool_result and
//     thinking, image sources other than base64 and url, non-text tool result content,
//     output_config fields other than effort and format, and any top-level field the
//     translation does not know.
//   - Documented pass-throughs, accepted and not sent because a model without Anthropic's
//     features satisfies them as it is: service_tier (picks Anthropic's capacity pool),
//     thinking "adaptive" (the model decides whether to think), output_config.effort (a hint
//     of how hard to think), and context_management (edits thinking blocks, which this path
//     drops). Claude Code sends all of them; TestClaudeCode runs it against a non-Anthropic
//     model.
//   - The answer: text (or a refusal) becomes a text block, tool calls tool_use blocks; finish
//     reasons map stop to end_turn, length to max_tokens, tool_calls to tool_use and
//     content_filter to refusal. The chat dialect does not say which stop sequence matched, so
//     stop_sequence is always null. Usage: input_tokens are the prompt tokens minus the cached
//     ones, which are cache_read_input_tokens.
//
// A stream waits for its first upstream event before answering 200, so an upstream that fails
// at once gets a proper error status. A stream that breaks later ends with an error event in
// Anthropic's shape, never with a clean message_stop.
//
// # count_tokens
//
// Only Anthropic-native models can count tokens: the request goes to the provider's
// /v1/messages/count_tokens. Any other model gets a 400 ("count_tokens is only available for
// anthropic models"): the gateway does not invent counts. Counting records no usage event.
package anthropicapi
