// Package chat holds the gateway's lingua franca: the OpenAI chat-completions and embeddings
// wire types, decoded with the validation a client should get back as a 400.
//
// Every client dialect is decoded into these types and every provider adapter translates from
// and to them. It holds data and its JSON forms only; no I/O.
package chat
