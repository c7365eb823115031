package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"

	"connectrpc.com/connect"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The JSON decoders of the Admin and Inference services refuse unknown fields, naming them.
// connect-go's JSON codec and grpc-gateway's default marshaler both drop them, so a misspelt
// field ({"adminn": true}) would be ignored and the call would succeed doing something else.
// Binary protobuf keeps its usual rule: unknown fields are skipped, as schema evolution needs.

// strictConnectJSON is the handler option that replaces connect-go's JSON codecs (used by the
// Connect protocol and by gRPC and gRPC-Web with +json) with strictJSONCodec.
func strictConnectJSON() connect.HandlerOption {
	return connect.WithHandlerOptions(
		connect.WithCodec(strictJSONCodec{name: "json"}),
		connect.WithCodec(strictJSONCodec{name: "json; charset=utf-8"}),
	)
}

// strictRESTJSON is the grpc-gateway option that decodes REST bodies with strictJSONPb. Responses
// are written as by grpc-gateway's default marshaler.
func strictRESTJSON() runtime.ServeMuxOption {
	return runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
		Marshaler: &strictJSONPb{JSONPb: runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}},
	})
}

// strictJSONCodec is connect-go's JSON codec except that unknown fields are an error naming
// them. It is safe for concurrent use.
type strictJSONCodec struct {
	name string
}

var _ connect.Codec = strictJSONCodec{}

// Name implements connect.Codec.
func (c strictJSONCodec) Name() string { return c.name }

// Marshal implements connect.Codec.
func (c strictJSONCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", v)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

// MarshalAppend lets connect-go reuse its buffers.
func (c strictJSONCodec) MarshalAppend(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", v)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

// MarshalStable is what connect-go needs of a codec for GET requests: compact output.
func (c strictJSONCodec) MarshalStable(v any) ([]byte, error) {
	b, err := c.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// IsBinary reports that the codec is text.
func (c strictJSONCodec) IsBinary() bool { return false }

// Unmarshal implements connect.Codec.
func (c strictJSONCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a proto.Message", v)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	return unmarshalStrict(data, m)
}

// strictJSONPb is grpc-gateway's JSONPb except that bodies decoded into messages refuse
// unknown fields, naming them.
type strictJSONPb struct {
	runtime.JSONPb
}

// Unmarshal implements runtime.Marshaler.
func (j *strictJSONPb) Unmarshal(data []byte, v any) error {
	if m, ok := protoTarget(v); ok {
		return unmarshalStrict(data, m)
	}
	return j.JSONPb.Unmarshal(data, v)
}

// NewDecoder implements runtime.Marshaler. It reads one JSON value, as JSONPb's decoder does;
// an empty body is io.EOF.
func (j *strictJSONPb) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err
		}
		if m, ok := protoTarget(v); ok {
			return unmarshalStrict(raw, m)
		}
		return j.JSONPb.NewDecoder(bytes.NewReader(raw)).Decode(v)
	})
}

var protoMessageType = reflect.TypeFor[proto.Message]()

// protoTarget returns the message v decodes into: v itself, or the message a **Message points
// to (grpc-gateway decodes a body field that way), allocated when nil.
func protoTarget(v any) (proto.Message, bool) {
	if m, ok := v.(proto.Message); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, false
	}
	e := rv.Elem()
	if e.Kind() != reflect.Pointer || !e.Type().Implements(protoMessageType) {
		return nil, false
	}
	if e.IsNil() {
		e.Set(reflect.New(e.Type().Elem()))
	}
	return e.Interface().(proto.Message), true
}

// protoPrefix is how protobuf-go starts its error messages ("proto:" and a space it varies on
// purpose); clients are shown the rest.
var protoPrefix = regexp.MustCompile(`^proto:[\s\x{a0}]*`)

// unmarshalStrict decodes data into m with protojson, refusing unknown fields. The error names
// the first unknown field by its path (`unknown field "user.adminn"`), or else says what
// protojson found wrong.
func unmarshalStrict(data []byte, m proto.Message) error {
	err := protojson.UnmarshalOptions{}.Unmarshal(data, m)
	if err == nil {
		return nil
	}
	if path, ok := unknownField(data, m.ProtoReflect().Descriptor()); ok {
		return fmt.Errorf("unknown field %q", path)
	}
	return errors.New("invalid JSON: " + protoPrefix.ReplaceAllString(err.Error(), ""))
}

// unknownField returns the path of the first field in data (by sorted key, depth first) that
// md does not have; ok is false when there is none or data is not JSON.
func unknownField(data []byte, md protoreflect.MessageDescriptor) (path string, ok bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", false
	}
	return unknownIn(v, md, "")
}

// specialJSON are the well-known types whose JSON form is not an object of their fields.
var specialJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Any": true, "google.protobuf.Timestamp": true, "google.protobuf.Duration": true,
	"google.protobuf.Struct": true, "google.protobuf.Value": true, "google.protobuf.ListValue": true,
	"google.protobuf.FieldMask": true, "google.protobuf.BoolValue": true, "google.protobuf.BytesValue": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true, "google.protobuf.Int32Value": true,
	"google.protobuf.Int64Value": true, "google.protobuf.StringValue": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.UInt64Value": true,
}

func unknownIn(v any, md protoreflect.MessageDescriptor, path string) (string, bool) {
	obj, ok := v.(map[string]any)
	if !ok || specialJSON[md.FullName()] {
		return "", false
	}
	fields := md.Fields()
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(key))
		}
		name := key
		if path != "" {
			name = path + "." + key
		}
		if fd == nil {
			return name, true
		}
		if fd.Message() == nil {
			continue
		}
		switch val := obj[key]; {
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok && fd.MapValue().Message() != nil {
				for _, k := range slices.Sorted(maps.Keys(m)) {
					if p, ok := unknownIn(m[k], fd.MapValue().Message(), name+"["+strconv.Quote(k)+"]"); ok {
						return p, true
					}
				}
			}
		case fd.IsList():
			if l, ok := val.([]any); ok {
				for i, e := range l {
					if p, ok := unknownIn(e, fd.Message(), name+"["+strconv.Itoa(i)+"]"); ok {
						return p, true
					}
				}
			}
		default:
			if p, ok := unknownIn(val, fd.Message(), name); ok {
				return p, true
			}
		}
	}
	return "", false
}
