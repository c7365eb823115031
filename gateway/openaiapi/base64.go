package openaiapi

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
)

var floatEmbedding = []byte(`"embedding":[`)

// embeddingsAsBase64 returns an embeddings answer whose vectors are OpenAI's base64 form (the
// little-endian float32 bytes), for a client that asked for encoding_format base64 (the
// OpenAI Python SDK does by default). Answers already in that form, from upstreams that
// honoured the request, are returned unchanged; only float arrays are converted, so every
// adapter may answer in floats.
func embeddingsAsBase64(answer []byte) ([]byte, error) {
	if !bytes.Contains(answer, floatEmbedding) {
		return answer, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(answer, &doc); err != nil {
		return nil, err
	}
	var data []map[string]json.RawMessage
	if err := json.Unmarshal(doc["data"], &data); err != nil {
		return nil, err
	}
	for _, item := range data {
		var v []float32
		if err := json.Unmarshal(item["embedding"], &v); err != nil {
			continue // not a float array: leave it
		}
		b := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
		item["embedding"] = enc
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	doc["data"] = raw
	return json.Marshal(doc)
}
