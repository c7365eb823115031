package providergoogle

import "encoding/json"

// The Gemini wire types (generateContent, streamGenerateContent, the embeddings methods and the
// OAuth2 token exchange): only the fields the adapter sends or reads. The Gemini API and Vertex
// AI share the generateContent shapes.

// generateRequest is the body of :generateContent and :streamGenerateContent.
type generateRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []tool            `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
}

// content is one turn (role "user" or "model") or the system instruction (no role).
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part is one part of a content; exactly one of its data fields is set.
type part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FileData         *fileData         `json:"fileData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	// ThoughtSignature is Gemini's opaque signature of the thinking behind a part; on a
	// functionCall part, Gemini 3 requires it back in later turns.
	ThoughtSignature string `json:"thoughtSignature,omitempty"`
}

// blob is inline media: base64 data with its MIME type.
type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

// fileData is media by URI.
type fileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

// functionCall is a call the model makes; Args is a JSON object.
type functionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// functionResponse is the result of a function call; Response is a JSON object.
type functionResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// tool holds function declarations.
type tool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

// functionDeclaration declares a function. ParametersJSONSchema takes full JSON Schema, which
// is what OpenAI clients send; the older parameters field takes only an OpenAPI subset.
type functionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

// toolConfig constrains function calling.
type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

// functionCallingConfig is mode AUTO, ANY or NONE, and with ANY optionally the allowed names.
type functionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// generationConfig holds the sampling and output options.
type generationConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	CandidateCount     *int64          `json:"candidateCount,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *thinkingConfig `json:"thinkingConfig,omitempty"`
}

// thinkingConfig sets the token budget for thinking.
type thinkingConfig struct {
	ThinkingBudget int64 `json:"thinkingBudget"`
}

// generateResponse is a GenerateContentResponse: the non-streaming answer, and each event of a
// stream. Error is set only on an error event of a stream.
type generateResponse struct {
	Candidates     []candidate     `json:"candidates"`
	PromptFeedback *promptFeedback `json:"promptFeedback"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata"`
	ModelVersion   string          `json:"modelVersion"`
	ResponseID     string          `json:"responseId"`
	Error          *errorStatus    `json:"error"`
}

// candidate is one answer. Index is omitted for the first candidate (proto3 JSON drops zeros).
type candidate struct {
	Content      *content `json:"content"`
	FinishReason string   `json:"finishReason"`
	Index        int64    `json:"index"`
}

// promptFeedback says why a prompt was blocked, in which case there are no candidates.
type promptFeedback struct {
	BlockReason string `json:"blockReason"`
}

// usageMetadata is Gemini's token count; in a stream each event carries the running total.
type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
}

// errorBody is Google's error answer: {"error":{"code","message","status","details"}}.
type errorBody struct {
	Error *errorStatus `json:"error"`
}

// errorStatus is a google.rpc.Status as JSON.
type errorStatus struct {
	Code    int           `json:"code"`
	Message string        `json:"message"`
	Status  string        `json:"status"`
	Details []errorDetail `json:"details"`
}

// errorDetail is one detail of an error: an ErrorInfo (Reason) or a RetryInfo (RetryDelay).
type errorDetail struct {
	Type       string `json:"@type"`
	Reason     string `json:"reason"`
	RetryDelay string `json:"retryDelay"`
}

// batchEmbedRequest is the body of the Gemini API's :batchEmbedContents.
type batchEmbedRequest struct {
	Requests []embedRequest `json:"requests"`
}

// embedRequest is one input of a batchEmbedRequest.
type embedRequest struct {
	Model                string  `json:"model"`
	Content              content `json:"content"`
	OutputDimensionality *int64  `json:"outputDimensionality,omitempty"`
}

// batchEmbedResponse is the answer of :batchEmbedContents, one embedding per request in order.
type batchEmbedResponse struct {
	Embeddings []struct {
		Values []float32 `json:"values"`
	} `json:"embeddings"`
}

// predictRequest is the body of Vertex AI's :predict for text-embedding models.
type predictRequest struct {
	Instances  []predictInstance  `json:"instances"`
	Parameters *predictParameters `json:"parameters,omitempty"`
}

// predictInstance is one text to embed.
type predictInstance struct {
	Content string `json:"content"`
}

// predictParameters are the options of an embeddings prediction.
type predictParameters struct {
	OutputDimensionality *int64 `json:"outputDimensionality,omitempty"`
}

// predictResponse is the answer of :predict, one prediction per instance in order.
type predictResponse struct {
	Predictions []struct {
		Embeddings struct {
			Values     []float32 `json:"values"`
			Statistics struct {
				// TokenCount is a protobuf Value, a JSON number that may be written as 6.0.
				TokenCount float64 `json:"token_count"`
			} `json:"statistics"`
		} `json:"embeddings"`
	} `json:"predictions"`
}

// serviceAccount is the part of a service-account key file the adapter uses.
type serviceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// tokenResponse is the OAuth2 token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}
