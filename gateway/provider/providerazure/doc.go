// Package providerazure is the provider adapter for Azure OpenAI's deployment-scoped inference
// API (kind "azure-openai"): chat completions at
// {endpoint}/openai/deployments/{deployment}/chat/completions?api-version={v} and embeddings at
// {endpoint}/openai/deployments/{deployment}/embeddings?api-version={v}.
//
// Azure speaks OpenAI's request, answer, stream and error formats, so the wire work is
// provideropenai's: the client's raw JSON is sent with only the model patched (to the deployment
// name, which Azure ignores but which keeps the body honest) and streams always ask for usage with
// stream_options.include_usage. Only the URL layout and the credential header differ.
//
// # Configuration
//
// provider.Config.BaseURL is the resource endpoint, such as https://<resource>.openai.azure.com;
// it is required, since every resource has its own. Settings:
//
//   - api_version: the api-version query parameter; default [DefaultAPIVersion], the data-plane
//     inference GA release that honours stream_options.include_usage. With an older version a
//     stream may report no usage, and is then recorded as missing usage.
//   - deployment: the deployment name in the URL; default provider.Config.Model.
//   - auth: "api-key" (default) sends provider.Config.APIKey as the api-key header; "entra" sends
//     it as "Authorization: Bearer <token>", a Microsoft Entra ID access token.
//
// Any other key is refused. An Entra token is used as configured: this package does not fetch or
// refresh tokens.
//
// # Errors
//
// Upstream errors go through provider.StatusError like every OpenAI-compatible upstream. A
// prompt blocked by Azure's content filter (400, code "content_filter") is therefore an
// invalid-request error whose public message carries no upstream text; a completion filtered
// mid-answer arrives as finish_reason "content_filter" in the answer itself.
//
// It is not for Azure AI Foundry's model-inference API (/models/chat/completions) or for the
// newer api-version-less /openai/v1 surface, and it does not implement Azure's Assistants,
// Responses, audio or image APIs.
package providerazure
