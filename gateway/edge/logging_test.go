package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func TestLoggingHeaders(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		want      bool
		wantParam string // the header a 400 names
	}{
		{name: "none", header: http.Header{}},
		{name: "enabled", header: http.Header{HeaderLoggingConfig: {`{"enabled": true}`}}, want: true},
		{name: "disabled", header: http.Header{HeaderLoggingConfig: {`{"enabled": false}`}}},
		{name: "TrueFoundry's, with its tracing project", header: http.Header{HeaderTFYLoggingConfig: {`{"enabled":true,"tracing_project_fqn":"truefoundry:tracing-project:acme"}`}}, want: true},
		{name: "TrueFoundry's reads an absent enabled as true", header: http.Header{HeaderTFYLoggingConfig: {`{}`}}, want: true},
		{name: "llmgw's wins", header: http.Header{HeaderLoggingConfig: {`{"enabled":false}`}, HeaderTFYLoggingConfig: {`{"enabled":true}`}}},
		{name: "not JSON", header: http.Header{HeaderLoggingConfig: {`enabled`}}, wantParam: HeaderLoggingConfig},
		{name: "not an object", header: http.Header{HeaderTFYLoggingConfig: {`true`}}, wantParam: HeaderTFYLoggingConfig},
		{name: "enabled not a boolean", header: http.Header{HeaderLoggingConfig: {`{"enabled":"yes"}`}}, wantParam: HeaderLoggingConfig},
		{name: "tracing project not a string", header: http.Header{HeaderTFYLoggingConfig: {`{"tracing_project_fqn":1}`}}, wantParam: HeaderTFYLoggingConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewRequest(tt.header, SurfaceOpenAI, time.Now()).LogBodies()
			if tt.wantParam != "" {
				if ae := apierr.From(err); err == nil || ae.Kind != apierr.KindInvalidRequest || ae.Param != tt.wantParam {
					t.Errorf("LogBodies() error %v, want a 400 naming %s", err, tt.wantParam)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LogBodies() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
