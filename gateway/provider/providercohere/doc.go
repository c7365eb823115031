// Package providercohere is the provider adapter for Cohere's v2 API (kind "cohere"): chat
// (POST /v2/chat), embeddings (POST /v2/embed) and rerank (POST /v2/rerank), with the key sent
// as Authorization: Bearer. It translates the gateway's OpenAI-shaped chat requests into Cohere
// chat requests and Cohere's answers and event streams back into OpenAI chat.completion and
// chat.completion.chunk objects; it implements provider.Embedder and provider.Reranker. It
// never follows redirects, so the key cannot travel to another host.
//
// # Request translation
//
// Messages map one to one: Cohere has system, user, assistant and tool roles and no
// alternation rule. Developer messages become system messages. System, assistant and tool
// messages take only text; user messages also take image_url parts (base64 data: URLs and http
// and https URLs, with OpenAI's detail). An assistant message with tool calls becomes Cohere's
// tool-calling turn: its text is sent as tool_plan, its calls as tool_calls (same shape as
// OpenAI's). Tool messages keep their tool_call_id. Tools keep OpenAI's function shape.
//
// max_completion_tokens (else max_tokens) becomes max_tokens, top_p p, stop stop_sequences;
// temperature, seed, frequency_penalty and presence_penalty map one to one. response_format
// json_object becomes {"type":"json_object"}, json_schema the same with the schema as
// json_schema. tool_choice auto is Cohere's default and is not sent; required becomes REQUIRED
// and none NONE. tools[i].function.strict becomes strict_tools, which Cohere applies to all tools
// of a request: either every tool is strict or none is. user, metadata and message names, which
// do not change the answer, are not sent.
//
// # Parameters Cohere cannot honour
//
// A request parameter that would change the answer and that Cohere cannot honour is never
// silently dropped: the request fails with an invalid-request error (HTTP 400) whose param names
// it and whose message says "<param> is not supported by cohere models". That covers n > 1,
// logprobs, top_logprobs, logit_bias, reasoning_effort, parallel_tool_calls false (with tools),
// tool_choice naming a function (Cohere can require a tool call but not a particular one), a mix
// of strict and non-strict tools, and content parts other than text and image_url. A parameter
// set to its no-op value (n = 1, logprobs = false, top_logprobs = 0, an empty logit_bias,
// response_format text) asks for nothing and is accepted.
//
// # Answer translation
//
// The answer's tool_plan and text parts, concatenated in that order, are the message content;
// tool_plan is the text the model says before calling tools, which is what an OpenAI assistant
// message's content holds beside tool_calls, and a client that sends the message back gets it
// sent as tool_plan again. Thinking parts are dropped. Tool calls keep their ids. Cohere answers
// without a model name, so the OpenAI model is the upstream model name. Finish reasons: COMPLETE
// and STOP_SEQUENCE (and reasons newer than this adapter) to "stop", MAX_TOKENS to "length",
// TOOL_CALL to "tool_calls". ERROR and TIMEOUT mean there is no answer: they are an upstream
// error (502, code upstream_error) and an upstream timeout (504), never a clean finish. Usage is
// the usage.billed_units counts (what Cohere charges), else usage.tokens'.
//
// # Streams
//
// message-start makes the role chunk; content-delta and tool-plan-delta events make content
// chunks; tool-call-start makes a tool call delta with its id, name and any first arguments,
// indexed from 0 in the order the calls start; tool-call-delta makes an arguments fragment for
// the same index; message-end makes the finish chunk and is followed by a usage-only chunk, and
// then Recv returns io.EOF. A message-end with ERROR or TIMEOUT (or an error) ends the stream with
// that error, and a stream that ends before message-end is a bad response (502); neither ends
// with io.EOF, and no upstream text reaches the public message.
//
// # Errors
//
// Error statuses map as provider.StatusError maps them, with Cohere's own: 402 (the account
// cannot be billed) is the gateway's provider account failing (502, code
// upstream_payment_required), and 498 (invalid token) is the gateway's credentials failing, as
// 401 is. Cohere's error bodies ({"message": ...}) reach only the log.
//
// # Embeddings
//
// Embed sends the inputs as texts with embedding_types ["float"] and the input_type of the
// setting "input_type" (search_document by default; search_query, classification and
// clustering are the others). dimensions becomes output_dimension; encoding_format base64 is
// honoured by encoding the floats in the adapter. Usage counts the billed input tokens.
//
// # Rerank
//
// Rerank sends the query, the documents and top_n. Cohere's v2 answer does not echo documents;
// when the call asks for them the adapter adds each result's text from the call. Usage counts
// the billed search units (one search is one query with up to 100 documents) as prompt tokens,
// so a rerank model's input price is its price per million searches.
package providercohere
