package conformance

// Providers returns the matrix rows in their fixed order: OpenAI and Anthropic, the
// OpenAI-compatible presets (served by the OpenAI fake), then the other native adapters.
func Providers() []Provider {
	return []Provider{
		OpenAI(),
		Anthropic(),
		Groq(),
		Mistral(),
		Together(),
		Perplexity(),
		SelfHosted(),
		Bedrock(),
		Cohere(),
		Gemini(),
		Vertex(),
		Azure(),
	}
}
