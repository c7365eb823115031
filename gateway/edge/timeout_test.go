package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/llmgw/llmgw/gateway/apierr"
)

func TestTimeoutHeaders(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		wantReq   time.Duration
		wantTTFT  time.Duration
		wantParam string // the header a 400 names
	}{
		{name: "none", header: http.Header{}},
		{name: "llmgw's", header: http.Header{HeaderRequestTimeout: {"1500"}, HeaderTTFTTimeout: {"250"}}, wantReq: 1500 * time.Millisecond, wantTTFT: 250 * time.Millisecond},
		{name: "TrueFoundry's", header: http.Header{HeaderTFYRequestTimeout: {"2000"}, HeaderTFYTTFTTimeout: {"300"}}, wantReq: 2 * time.Second, wantTTFT: 300 * time.Millisecond},
		{name: "llmgw's first", header: http.Header{HeaderTTFTTimeout: {"100"}, HeaderTFYTTFTTimeout: {"900"}}, wantTTFT: 100 * time.Millisecond},
		{name: "ttft not a number", header: http.Header{HeaderTTFTTimeout: {"soon"}}, wantParam: HeaderTTFTTimeout},
		{name: "ttft zero", header: http.Header{HeaderTTFTTimeout: {"0"}}, wantParam: HeaderTTFTTimeout},
		{name: "ttft negative, TrueFoundry's", header: http.Header{HeaderTFYTTFTTimeout: {"-5"}}, wantParam: HeaderTFYTTFTTimeout},
		{name: "ttft a fraction", header: http.Header{HeaderTTFTTimeout: {"1.5"}}, wantParam: HeaderTTFTTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRequest(tt.header, SurfaceOpenAI, time.Now())
			req, err := r.Timeout()
			if err != nil || req != tt.wantReq {
				t.Errorf("Timeout() = %v, %v; want %v", req, err, tt.wantReq)
			}
			ttft, err := r.TTFTTimeout()
			if tt.wantParam != "" {
				if ae := apierr.From(err); err == nil || ae.Kind != apierr.KindInvalidRequest || ae.Param != tt.wantParam {
					t.Errorf("TTFTTimeout() error %v, want a 400 naming %s", err, tt.wantParam)
				}
				return
			}
			if err != nil || ttft != tt.wantTTFT {
				t.Errorf("TTFTTimeout() = %v, %v; want %v", ttft, err, tt.wantTTFT)
			}
		})
	}
}
