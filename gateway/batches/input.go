package batches

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/llmgw/llmgw/gateway/apierr"
	"github.com/llmgw/llmgw/gateway/rawjson"
)

// Target is where a batch's lines go upstream, as a Resolver decides it.
type Target struct {
	// Model is the name the upstream knows the model by.
	Model string
	// URL is the upstream's path for the line's url.
	URL string
}

// Resolver checks that the caller may send a line for model (the FQN the client wrote) to url
// ("/v1/chat/completions") and returns where it goes. Its error is the client's, as the
// pipeline returns it (unknown model, not allowed, wrong type).
type Resolver func(model, url string) (Target, error)

// Input is what RewriteInput learned of a batch input file.
type Input struct {
	// Model is the FQN every line names.
	Model string
	// Lines is the number of requests.
	Lines int
}

// RewriteInput copies a batch input file (JSONL, one request per line: custom_id, method,
// url, body) from src to dst with each line's body.model and url replaced by where resolve
// sends them; every other byte of a line is kept. Every line must name the same model, as
// OpenAI requires; blank lines are dropped. An error names the line (1-based) and is the
// client's (a 400 on the "file" parameter), except read and write errors, returned as they are.
func RewriteInput(src io.Reader, dst io.Writer, resolve Resolver) (Input, error) {
	var in Input
	targets := map[string]Target{} // by url
	r := bufio.NewReaderSize(src, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return in, err
		}
		if content := bytes.TrimSpace(line); len(content) > 0 {
			out, werr := rewriteLine(content, n, &in, targets, resolve)
			if werr != nil {
				return in, werr
			}
			if _, werr := dst.Write(append(out, '\n')); werr != nil {
				return in, werr
			}
			in.Lines++
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if in.Lines == 0 {
		return in, apierr.Invalid("file", "the batch input file has no requests; write one JSON request per line")
	}
	return in, nil
}

func lineErr(n int, format string, args ...any) error {
	return apierr.Invalid("file", "line "+strconv.Itoa(n)+": "+format, args...)
}

func rewriteLine(line []byte, n int, in *Input, targets map[string]Target, resolve Resolver) ([]byte, error) {
	var req struct {
		URL  json.RawMessage `json:"url"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(line, &req); err != nil || line[0] != '{' {
		return nil, lineErr(n, "not a JSON object; a batch input file holds one JSON request per line")
	}
	var url, model string
	if json.Unmarshal(req.URL, &url) != nil || url == "" {
		return nil, lineErr(n, "url must be the endpoint's path, such as \"/v1/chat/completions\"")
	}
	if len(req.Body) == 0 || req.Body[0] != '{' {
		return nil, lineErr(n, "body must be a JSON object, the endpoint's request")
	}
	raw, ok, err := rawjson.Get(req.Body, "model")
	if err != nil || !ok || json.Unmarshal(raw, &model) != nil || model == "" {
		return nil, lineErr(n, "body.model must name a model")
	}
	if in.Model == "" {
		in.Model = model
	} else if model != in.Model {
		return nil, lineErr(n, "the model %q differs from line 1's %q; a batch sends every request to one model", model, in.Model)
	}
	t, seen := targets[url]
	if !seen {
		if t, err = resolve(model, url); err != nil {
			e := apierr.From(err)
			return nil, &apierr.Error{Kind: e.Kind, Param: "file", Code: e.Code, Message: "line " + strconv.Itoa(n) + ": " + e.Message}
		}
		targets[url] = t
	}
	body, err := rawjson.Set(req.Body, "model", strconv.AppendQuote(nil, t.Model))
	if err != nil {
		return nil, lineErr(n, "body must be a JSON object, the endpoint's request")
	}
	out, err := rawjson.Set(line, "body", body)
	if err == nil && t.URL != url {
		out, err = rawjson.Set(out, "url", strconv.AppendQuote(nil, t.URL))
	}
	if err != nil {
		return nil, lineErr(n, "not a JSON object; a batch input file holds one JSON request per line")
	}
	return out, nil
}
