// Package providerbedrock is the provider adapter for Amazon Bedrock's runtime API: chat through
// Converse (POST /model/{modelId}/converse) and ConverseStream (.../converse-stream, answered as
// an application/vnd.amazon.eventstream binary stream), and embeddings through InvokeModel
// (.../invoke) for Amazon Titan and Cohere embed models. It translates the gateway's
// OpenAI-shaped requests into Bedrock's and Bedrock's answers back into OpenAI objects. It is not
// a client for Bedrock's control plane (model listing, provisioning, guardrail management).
//
// # Endpoint, model and signing
//
// Requests go to https://bedrock-runtime.{region}.amazonaws.com, or to provider.Config.BaseURL
// when set. The model is a foundation model id, an inference profile id such as
// "us.anthropic.claude-3-5-sonnet-20240620-v1:0", or an ARN; it is escaped as one path segment
// (":" and "/" included). Every request is signed with SigV4 for the service "bedrock" by
// aws-sdk-go-v2's signer. Redirects are never followed: they would carry X-Amz-Security-Token
// to another host.
//
// # Credentials
//
// Settings: region (required), access_key_id (required), role_arn, external_id and
// role_session_name (the last two need role_arn). Any other key is refused by New, naming it.
// provider.Config.APIKey is the secret access key, either plain or, for temporary credentials,
// as a JSON object {"secret_access_key": "...", "session_token": "..."}: a session token is a
// secret, so it is never a setting. With a session token every request carries
// X-Amz-Security-Token.
//
// With role_arn, the adapter assumes the role with STS AssumeRole
// (POST https://sts.{region}.amazonaws.com/, signed with the keys above, ExternalId and
// RoleSessionName from the settings, RoleSessionName "llmgw" by default) and signs with the
// temporary credentials. They are cached, shared by concurrent requests, and replaced five
// minutes before they expire; one request at a time refreshes them. If STS fails while the
// cached credentials have not yet expired, they are used. Tests point the STS endpoint at a
// fake through an unexported field; deployments always use the regional STS endpoint.
//
// # Request translation
//
// System and developer messages become the system blocks, in order. Consecutive messages of the
// same role are merged into one turn, since Converse requires user and assistant turns to
// alternate; tool messages become toolResult blocks of a user turn (a tool result with no
// content holds the text "(no output)", because Converse rejects empty text blocks). Assistant
// tool calls become toolUse blocks whose input is the parsed arguments JSON. Images must be
// base64 data: URLs of PNG, JPEG, GIF or WebP images; Converse takes images only as bytes and
// the gateway does not fetch URLs, so an http(s) image URL is an invalid request naming the
// part. max_completion_tokens (else max_tokens), temperature, top_p and stop become
// inferenceConfig.
//
// Tools become toolConfig.tools[].toolSpec. tool_choice "auto" becomes {"auto":{}},
// "required" {"any":{}} and a named function {"tool":{"name":...}}. Converse has no "none"
// choice, so "none" is sent by withholding toolConfig; since Converse refuses tool calls and
// results in the messages without a toolConfig, "none" with such messages is an invalid request
// naming tool_choice, and so are such messages without tools (naming tools).
//
// # Parameters Bedrock cannot honour
//
// A request parameter that would change the answer and that Converse cannot honour is never
// silently dropped: the request fails with an invalid-request error (HTTP 400) whose param names
// it and whose message says "<param> is not supported by bedrock models". That covers n > 1,
// logprobs, top_logprobs, logit_bias, presence_penalty, frequency_penalty, seed, response_format
// json_object (JSON without a schema), reasoning_effort and parallel_tool_calls = false (with
// tools). A parameter set to its no-op value is accepted. OpenAI's user, metadata and message
// names, which do not change the answer, are not sent.
//
// Structured output is translated: response_format json_schema becomes outputConfig.textFormat
// {"type": "json_schema", "structure": {"jsonSchema": {"schema": "<the schema as a JSON
// string>", "name", "description"}}}, and a tool's function.strict becomes toolSpec.strict.
// Models without structured outputs refuse them upstream, which maps as any upstream 400.
//
// # Answer translation
//
// Converse answers carry no id: the completion id is "chatcmpl-" and Bedrock's x-amzn-RequestId,
// and the model is the configured model id. Text blocks are concatenated into the message
// content and toolUse blocks become tool calls (arguments are the compact JSON of the input);
// reasoning and other blocks are dropped. Stop reasons map to finish reasons: end_turn and
// stop_sequence to "stop", max_tokens and model_context_window_exceeded to "length", tool_use
// to "tool_calls", guardrail_intervened and content_filtered to "content_filter". Prompt tokens
// count input, cache-read and cache-write tokens, the cache reads are also reported as
// prompt_tokens_details.cached_tokens, and the total is prompt plus completion tokens.
//
// A stream's chunks all carry the same id, created and model: a role chunk at messageStart,
// text deltas, a tool call's id and name at its contentBlockStart and its input as argument
// fragments (tool calls indexed from 0), a finish chunk at messageStop, and a usage-only chunk
// (no choices) from the metadata event, after which Recv returns io.EOF. An exception event makes
// Recv return an error (throttlingException a rate limit, serviceUnavailableException an
// unavailable upstream, others an upstream failure), and so does a stream that ends before its
// metadata event: never io.EOF.
//
// # Errors
//
// Error answers ({"message": ...} with an x-amzn-ErrorType header) map by status as
// provider.StatusError maps them (ValidationException 400 an invalid request,
// AccessDeniedException 403 a refused gateway credential, ResourceNotFoundException 404 an
// unknown model, ThrottlingException 429 a rate limit, ServiceUnavailableException 503 an
// unavailable upstream, ModelTimeoutException 408 a timeout), except that
// ServiceQuotaExceededException is a rate limit and ModelNotReadyException an unavailable
// upstream. Bedrock's message goes to the cause (the log), never to the client. A failed
// AssumeRole is a refused gateway credential, or a rate limit or outage when STS says so.
//
// # Embeddings
//
// When the model id (or an ARN's last path segment) names an Amazon Titan text embeddings model
// ("amazon.titan-embed-...") or a Cohere embed model ("cohere.embed-..."), optionally after an
// inference profile prefix such as "us.", the adapter also implements provider.Embedder. Titan
// takes one text per call, {"inputText", "dimensions"}: the adapter makes one call per input,
// four at a time, and counts inputTextTokenCount. Cohere takes up to 96 texts per call,
// {"texts", "input_type": "search_document"}: the adapter batches them, counts Bedrock's
// X-Amzn-Bedrock-Input-Token-Count header, and refuses dimensions. The answer is an OpenAI
// embeddings list, with vectors as floats or, for encoding_format "base64", as the base64 of
// their little-endian float32s.
package providerbedrock
