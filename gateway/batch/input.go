package batch

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
// sends them; every other byte of a line is kept. Members are read and replaced by their exact
// names (a duplicated member is replaced everywhere), so the upstream runs what was checked.
// Every line must name the same model, as OpenAI requires; blank lines are dropped; a line
// longer than maxLine bytes is refused. An error names the line (1-based) and is the client's
// (on the "file" parameter), except read and write errors, returned as they are.
func RewriteInput(src io.Reader, dst io.Writer, maxLine int, resolve Resolver) (Input, error) {
	var in Input
	targets := map[string]Target{} // by url
	r := bufio.NewReaderSize(src, 64<<10)
	var line []byte // reused: each line is done with before the next is read
	for n := 1; ; n++ {
		var err error
		line, err = readLine(r, line[:0], maxLine)
		if errors.Is(err, errLongLine) {
			return in, lineErr(n, "the line is longer than the limit of %d bytes", maxLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return in, err
		}
		if content := bytes.TrimSpace(line); len(content) > 0 {
			out, lerr := rewriteLine(content, n, &in, targets, resolve)
			if lerr != nil {
				return in, lerr
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

var errLongLine = errors.New("line too long")

// readLine appends the next line of r (its newline included) to buf, reading no more than max
// bytes of it: past that it returns errLongLine. At the end of r it returns the last, possibly
// empty, line with io.EOF.
func readLine(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			return nil, errLongLine
		}
		buf = append(buf, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}

func lineErr(n int, format string, args ...any) error {
	return apierr.Invalid("file", "line "+strconv.Itoa(n)+": "+format, args...)
}

// stringMember returns the string value of obj's member key, or "".
func stringMember(obj []byte, key string) string {
	raw, ok, err := rawjson.Get(obj, key)
	var s string
	if err != nil || !ok || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func rewriteLine(line []byte, n int, in *Input, targets map[string]Target, resolve Resolver) ([]byte, error) {
	if line[0] != '{' || !json.Valid(line) {
		return nil, lineErr(n, "not a JSON object; a batch input file holds one JSON request per line")
	}
	url := stringMember(line, "url")
	if url == "" {
		return nil, lineErr(n, "url must be the endpoint's path, such as \"/v1/chat/completions\"")
	}
	body, ok, err := rawjson.Get(line, "body")
	if body = bytes.TrimSpace(body); err != nil || !ok || len(body) == 0 || body[0] != '{' {
		return nil, lineErr(n, "body must be a JSON object, the endpoint's request")
	}
	model := stringMember(body, "model")
	if model == "" {
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
			return nil, &apierr.Error{Kind: e.Kind, Param: "file", Code: e.Code, Message: "line " + strconv.Itoa(n) + ": " + e.Message, Cause: e.Cause}
		}
		targets[url] = t
	}
	body, err = rawjson.SetString(body, "model", t.Model)
	if err == nil {
		line, err = rawjson.Set(line, "body", body)
	}
	if err == nil {
		line, err = rawjson.SetString(line, "url", t.URL)
	}
	if err != nil {
		return nil, lineErr(n, "not a JSON object; a batch input file holds one JSON request per line")
	}
	return line, nil
}
