// Package provideropenai is the adapter for OpenAI and every server that speaks OpenAI's API:
// self-hosted vLLM, TGI and Ollama, and hosted Groq, Mistral, Together and Perplexity.
//
// A request that arrived in OpenAI's dialect is forwarded as the client's raw JSON with only
// the model patched (and, for streams, stream_options set so the upstream always reports
// usage); it is never decoded and re-encoded. The answer is forwarded as the upstream wrote it;
// only its usage is read.
package provideropenai
