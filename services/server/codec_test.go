package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
	inferencev1 "github.com/llmgw/llmgw/gen/go/llmgw/inference/v1"
)

// decoders are the two JSON decoders under test, each decoding a body the way its transport
// does: Connect a whole request; REST (grpc-gateway) the request, or with a body field such
// as CreateUserRequest's "user", that field through a **User.
var decoders = []struct {
	name   string
	decode func(body []byte, into proto.Message) error
}{
	{"connect", func(body []byte, into proto.Message) error {
		return strictJSONCodec{name: "json"}.Unmarshal(body, into)
	}},
	{"rest", func(body []byte, into proto.Message) error {
		m := &strictJSONPb{}
		if req, ok := into.(*adminv1.CreateUserRequest); ok {
			return m.NewDecoder(bytes.NewReader(body)).Decode(&req.User)
		}
		return m.NewDecoder(bytes.NewReader(body)).Decode(into)
	}},
}

func TestStrictJSONNamesUnknownFields(t *testing.T) {
	tests := []struct {
		name string
		into func() proto.Message
		// body per decoder, as each transport sees it.
		connect, rest string
		want          string // "" for success
	}{
		{
			name: "top level", into: func() proto.Message { return &adminv1.RotateApiKeyRequest{} },
			connect: `{"id":"k","gracePeriodd":"1s"}`, rest: `{"id":"k","gracePeriodd":"1s"}`,
			want: `unknown field "gracePeriodd"`,
		},
		{
			name: "in a body field", into: func() proto.Message { return &adminv1.CreateUserRequest{} },
			connect: `{"user":{"name":"a","adminn":true}}`, rest: `{"name":"a","adminn":true}`,
			want: `unknown field "`,
		},
		{
			name: "in a list", into: func() proto.Message { return &inferencev1.ChatCompletionRequest{} },
			connect: `{"model":"m","messages":[{"role":"ROLE_USER"},{"rolee":"ROLE_USER"}]}`, rest: `{"model":"m","messages":[{"role":"ROLE_USER"},{"rolee":"ROLE_USER"}]}`,
			want: `unknown field "messages[1].rolee"`,
		},
		{
			name: "proto names and JSON names are both known", into: func() proto.Message { return &adminv1.RotateApiKeyRequest{} },
			connect: `{"id":"k","grace_period":"1s"}`, rest: `{"id":"k","gracePeriod":"1s"}`,
		},
		{
			name: "a Struct takes any keys", into: func() proto.Message { return &inferencev1.ChatCompletionRequest{} },
			connect: `{"model":"m","responseFormat":{"type":"RESPONSE_FORMAT_TYPE_JSON_SCHEMA","jsonSchema":{"name":"s","schema":{"anything":{"goes":1}}}}}`,
			rest:    `{"model":"m","responseFormat":{"type":"RESPONSE_FORMAT_TYPE_JSON_SCHEMA","jsonSchema":{"name":"s","schema":{"anything":{"goes":1}}}}}`,
		},
		{
			name: "a wrong type is explained without the proto: prefix", into: func() proto.Message { return &adminv1.RotateApiKeyRequest{} },
			connect: `{"id":7}`, rest: `{"id":7}`,
			want: "invalid JSON: ",
		},
	}
	for _, tt := range tests {
		for _, d := range decoders {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				body := tt.connect
				if d.name == "rest" {
					body = tt.rest
				}
				err := d.decode([]byte(body), tt.into())
				if tt.want == "" {
					if err != nil {
						t.Fatalf("%s: %v", body, err)
					}
					return
				}
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "proto:") {
					t.Fatalf("%s: %v; want an error starting %q", body, err, tt.want)
				}
			})
		}
	}
	// The body field is named relative to what each transport decodes.
	err := decoders[0].decode([]byte(`{"user":{"adminn":true}}`), &adminv1.CreateUserRequest{})
	if err == nil || err.Error() != `unknown field "user.adminn"` {
		t.Errorf("connect: %v", err)
	}
	err = decoders[1].decode([]byte(`{"adminn":true}`), &adminv1.CreateUserRequest{})
	if err == nil || err.Error() != `unknown field "adminn"` {
		t.Errorf("rest: %v", err)
	}
	// An empty REST body is io.EOF, which grpc-gateway treats as no body.
	if err := decoders[1].decode(nil, &adminv1.RotateApiKeyRequest{}); !errors.Is(err, io.EOF) {
		t.Errorf("empty REST body: %v, want io.EOF", err)
	}
}

// fuzzTargets are messages of both services with nested messages, lists, maps, oneofs, enums
// and well-known types.
var fuzzTargets = []func() proto.Message{
	func() proto.Message { return &adminv1.CreateUserRequest{} },
	func() proto.Message { return &adminv1.RotateApiKeyRequest{} },
	func() proto.Message { return &adminv1.CreateVirtualModelRequest{} },
	func() proto.Message { return &adminv1.CreateProviderAccountRequest{} },
	func() proto.Message { return &inferencev1.ChatCompletionRequest{} },
}

func addSeeds(f *testing.F) {
	for _, s := range []string{
		`{"user":{"name":"a","admin":true,"teams":["t"]}}`,
		`{"user":{"name":"a","adminn":true}}`,
		`{"name":"a","adminn":true}`,
		`{"id":"k","gracePeriod":"3600s"}`,
		`{"id":"k","grace_period":"-1s","x":1}`,
		`{"routingConfig":{"name":"r","targets":[{"model":"a/b","wieght":1}]}}`,
		`{"providerAccount":{"name":"a","settings":{"region":"eu"}}}`,
		`{"model":"m","messages":[{"role":"ROLE_USER","content":[{"text":"x"}]}],"responseFormat":{"jsonSchema":{"schema":{"k":[1,null]}}}}`,
		`{"model":1}`,
		`[]`,
		`{"a":{"b":`,
	} {
		for i := range fuzzTargets {
			f.Add(uint8(i), []byte(s))
		}
	}
}

// checkDecode is the property both fuzz targets check: the strict decoder accepts exactly
// what protojson accepts with unknown fields refused, decodes it the same way, and refuses
// everything else with an error that is not protobuf-go's raw text; when the only fault is an
// unknown field, the error names it.
func checkDecode(t *testing.T, target uint8, body []byte, decode func([]byte, proto.Message) error) {
	newMsg := fuzzTargets[int(target)%len(fuzzTargets)]
	got := newMsg()
	err := decode(body, got)
	want := newMsg()
	wantErr := protojson.Unmarshal(body, want)
	if err == nil {
		if wantErr != nil {
			t.Fatalf("accepted %q, which protojson refuses: %v", body, wantErr)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decoded %q as %v, protojson as %v", body, got, want)
		}
		return
	}
	if strings.HasPrefix(err.Error(), "proto:") {
		t.Fatalf("%q: raw protobuf-go error %v", body, err)
	}
	if wantErr == nil && !errors.Is(err, io.EOF) {
		t.Fatalf("refused %q, which protojson accepts: %v", body, err)
	}
	// Discarding unknown fields also discards unknown enum value names; those are reported as
	// invalid values.
	lenientErr := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, newMsg())
	if lenientErr == nil && !strings.HasPrefix(err.Error(), `unknown field "`) && !strings.Contains(err.Error(), "enum") {
		t.Fatalf("%q has only unknown fields wrong, but the error does not name one: %v", body, err)
	}
}

// FuzzConnectJSON: the Connect JSON codec never panics, agrees with strict protojson, and
// names the unknown field it refuses.
func FuzzConnectJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		if len(body) == 0 {
			return // the codec refuses an empty payload before decoding
		}
		checkDecode(t, target, body, decoders[0].decode)
	})
}

// FuzzRESTJSON: the REST (grpc-gateway) decoder never panics, agrees with strict protojson on
// the JSON value it reads, and names the unknown field it refuses. With the high bit of target
// set it decodes through a **Message, as grpc-gateway does for a body field.
func FuzzRESTJSON(f *testing.F) {
	addSeeds(f)
	rest := func(indirect bool) func([]byte, proto.Message) error {
		return func(b []byte, into proto.Message) error {
			d := (&strictJSONPb{}).NewDecoder(bytes.NewReader(b))
			if !indirect {
				return d.Decode(into)
			}
			pp := reflect.New(reflect.TypeOf(into)) // a **T holding nil
			err := d.Decode(pp.Interface())
			if m, ok := pp.Elem().Interface().(proto.Message); ok && !pp.Elem().IsNil() {
				proto.Merge(into, m)
			}
			return err
		}
	}
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		decode := rest(target&0x80 != 0)
		var raw json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&raw); err != nil {
			// Not a JSON value: refused (io.EOF for an empty body), never a panic.
			if decode(body, fuzzTargets[int(target)%len(fuzzTargets)]()) == nil {
				t.Fatalf("accepted %q, which is not JSON", body)
			}
			return
		}
		// grpc-gateway reads the first JSON value of the body and leaves the rest unread.
		checkDecode(t, target, raw, decode)
	})
}
