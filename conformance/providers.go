package conformance

// Providers returns the matrix rows in their fixed order: the providers the gateway speaks
// natively first, then OpenAI-compatible presets, then the other native adapters.
func Providers() []Provider {
	return []Provider{
		OpenAI(),
		Anthropic(),
		Groq(),
		Mistral(),
		Together(),
		SelfHosted(),
		Bedrock(),
		Cohere(),
		Gemini(),
		Vertex(),
		Azure(),
	}
}
