// Package providergoogle is the provider adapter for Google's Gemini models, as two kinds that
// share one translation: "gemini", the Gemini API (generativelanguage.googleapis.com/v1beta,
// key in the x-goog-api-key header; [NewGemini]), and "vertex", Vertex AI
// ({location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/
// google/models/{model}, OAuth2 bearer token from a service-account key; [NewVertex]). It
// translates the gateway's OpenAI-shaped chat requests into generateContent and
// streamGenerateContent?alt=sse requests and Gemini's answers back into OpenAI chat.completion
// and chat.completion.chunk objects. Both kinds implement provider.Embedder.
//
// # Credentials
//
// The Vertex kind's provider.Config.APIKey is a service-account key file, the JSON itself. The
// adapter signs an RS256 JWT (iss client_email, scope cloud-platform, aud token_uri) with the
// file's private key and exchanges it at token_uri (grant type jwt-bearer) for an access token,
// which it caches until five minutes before it expires. Concurrent requests share one exchange;
// no request waits on a token endpoint while a cached token is valid. A failed exchange is not
// cached. The token endpoint refusing the assertion is reported as the provider refusing the
// gateway's credentials (502), never as the client's fault.
//
// # Request translation
//
// System and developer messages become systemInstruction, one text part per message, in order.
// Assistant messages become "model" turns; their tool calls become functionCall parts whose args
// are the parsed arguments JSON. Tool messages become functionResponse parts of a user turn.
// Gemini identifies a function result by the function's name, not an id, so the name is taken
// from the nearest earlier assistant tool call with the tool_call_id; a tool message whose id
// matches no earlier call is a 400 naming messages[i].tool_call_id. The response object is the
// tool's text when that is a JSON object, else {"content": <text>}. Consecutive messages that
// map to the same role are merged into one turn, so the results of parallel calls arrive
// together.
//
// Image parts with a base64 data: URL become inlineData. Image parts with an http, https or gs
// URL become fileData; Gemini needs the MIME type of file data, and it is guessed from the URL
// path's extension (.png, .jpg, .jpeg, .webp, .gif, .heic, .heif). A URL without one of those
// extensions is a 400: a wrong guess would fail upstream or, worse, be misread. The OpenAI image
// detail has no per-part Gemini equivalent and is not sent.
//
// Tools become one tool with functionDeclarations; the parameters go into parametersJsonSchema,
// which takes full JSON Schema as OpenAI clients write it (the older parameters field takes only
// an OpenAPI subset and rejects common keywords). tool_choice maps to functionCallingConfig:
// auto to AUTO, none to NONE, required to ANY, a named function to ANY with
// allowedFunctionNames. max_completion_tokens (else max_tokens) becomes maxOutputTokens, n
// candidateCount, stop stopSequences; temperature, top_p, seed, presence_penalty and
// frequency_penalty map one to one. response_format json_object sets responseMimeType
// application/json; json_schema sets it and sends the schema as responseJsonSchema (full JSON
// Schema, unlike responseSchema's OpenAPI subset). reasoning_effort sets
// thinkingConfig.thinkingBudget as Google's OpenAI-compatible endpoint does: none 0, minimal and
// low 1024, medium 8192, high 24576. user and metadata, which do not change the answer, are not
// sent.
//
// # Parameters Gemini cannot honour
//
// A parameter that would change the answer and that this adapter cannot honour is never
// silently dropped: the request fails with an invalid-request error (HTTP 400) whose param names
// it and whose message says "<param> is not supported by gemini models". That covers logprobs,
// top_logprobs, logit_bias, parallel_tool_calls false (Gemini cannot be told to call one
// function at a time), tools[i].function.strict (function declarations are not strictly
// enforced) and content part types other than text and image_url. A parameter set to its no-op
// value (logprobs false, top_logprobs 0, an empty logit_bias, parallel_tool_calls true) asks for
// nothing and is accepted.
//
// # Answer translation
//
// Each candidate becomes a choice: its text parts, concatenated, are the content (thought
// summaries are left out), and its functionCall parts are tool calls. Gemini gives calls no id,
// so they get "call_<n>", numbered from 0 in order across the answer; a client echoes these ids
// back in tool messages and the name lookup above resolves them. A call Gemini signed (Gemini 3
// thinking models put a thoughtSignature on function call parts and require it back) has the
// signature appended to its id as "call_<n>__thought__<signature, base64url>"; when the assistant message comes
// back, the signature is restored to its functionCall part, so multi-turn tool use works with
// no state in the gateway. Finish reasons: STOP (and
// OTHER, LANGUAGE and reasons newer than this adapter) to "stop", or "tool_calls" when the
// candidate called functions, since Gemini says STOP there; MAX_TOKENS to "length"; SAFETY,
// RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and the IMAGE_ variants to "content_filter". A
// prompt Gemini blocks (no candidates, promptFeedback.blockReason) is one empty choice finished
// with "content_filter". MALFORMED_FUNCTION_CALL and UNEXPECTED_TOOL_CALL mean the model tried a
// call it got wrong: there is no answer to give, and "stop" with empty content would look like a
// silent success, so they are an upstream error (502, code upstream_malformed_function_call)
// that a client may retry.
//
// Usage: prompt_tokens is promptTokenCount plus toolUsePromptTokenCount (both billed as input),
// cached_tokens is cachedContentTokenCount, completion_tokens is candidatesTokenCount plus
// thoughtsTokenCount (thinking is billed as output) and reasoning_tokens is thoughtsTokenCount.
//
// # Streams
//
// Each event of streamGenerateContent?alt=sse is a GenerateContentResponse. For each candidate
// the stream yields a role chunk first, then a chunk per event with its text and, for each
// functionCall part (Gemini sends a call whole), a complete tool call delta with its index, id,
// name and arguments; then a finish chunk. After the upstream ends, a usage-only chunk carries
// the last usageMetadata, and then Recv returns io.EOF. A stream that ends before every
// candidate has a finish reason, or in the middle of an event, is a bad response (502); an error
// object in the stream is mapped by its code as an error status would be. Neither ends with
// io.EOF, and no upstream text reaches the public message.
//
// # Errors
//
// Error statuses map as provider.StatusError maps them, with two Google specifics: the Gemini
// API's 400 with reason API_KEY_INVALID is the gateway's credential failing (502, not the
// client's 400), and a 429's RetryInfo retryDelay becomes Retry-After.
//
// # Embeddings
//
// The Gemini kind calls :batchEmbedContents with one request per input; the Gemini API reports
// no token count, so usage is zero. The Vertex kind calls :predict with one instance per input
// and reports the sum of the inputs' statistics.token_count as prompt tokens. dimensions becomes
// outputDimensionality; encoding_format base64 is honoured by encoding the floats in the
// adapter.
package providergoogle
