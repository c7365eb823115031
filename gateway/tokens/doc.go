// Package tokens counts the tokens of text the gateway saw itself, for the requests whose
// upstream never reported usage: a stream cut, timed out or abandoned before its final usage
// event, or an answer without a usage member. The pipeline records such a request with usage
// estimated from these counts (usage.Event.UsageEstimated), so it is costed, never free.
//
// Models of the OpenAI family are counted with their own tokenizer: tiktoken's o200k_base
// (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series, gpt-oss) or cl100k_base (gpt-4, gpt-3.5,
// the text-embedding models). The byte-pair ranks are embedded in the binary (about 5 MB of
// the two files) and loaded at the first count that needs them; nothing is fetched over the
// network. Every other model is estimated at one token per four bytes of UTF-8 text, rounded
// up (Estimate): close for English prose and code on current tokenizers, high for text in
// scripts that a tokenizer packs more densely.
//
// It is not for counting what a provider bills when the provider reports it: reported usage
// always wins.
package tokens
