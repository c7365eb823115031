// Package redact removes secrets from text the gateway passes on but did not write: upstream
// error bodies before they become an error's cause, and every string a log record carries.
//
// Two kinds of secret are recognised:
//
//   - configured secrets, the values the gateway holds (provider API keys, bearer tokens, AWS
//     secret keys and session tokens, service-account private keys), compiled once per
//     configuration snapshot into a [Redactor]; and
//   - key-shaped text, whatever its origin ([KeyShapes]): OpenAI and Anthropic keys (sk-...),
//     bearer credentials, AWS access key ids and secret keys, Google API keys and OAuth access
//     tokens, JWTs, llmgw keys, PEM private keys, and long random-looking tokens.
//
// It is not a data-loss-prevention filter for prompts or completions: the gateway never logs
// those, and it does not rewrite what a model answers.
package redact
