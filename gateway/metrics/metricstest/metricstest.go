// Package metricstest reads a Prometheus scrape for tests: it parses the text format with
// Prometheus's own parser (expfmt) and looks series up by name and labels.
package metricstest

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are a scrape's metric families by name.
type Families map[string]*dto.MetricFamily

// Parse parses a scrape in the text format.
func Parse(t testing.TB, r io.Reader) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// Scrape serves GET /metrics from h and parses the answer, which must be 200.
func Scrape(t testing.TB, h http.Handler) Families {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return Parse(t, rec.Body)
}

// Get fetches url with header (nil for none), which must answer 200, and parses it.
func Get(t testing.TB, url string, header http.Header) Families {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	return Parse(t, resp.Body)
}

// Labels are a series' labels.
type Labels map[string]string

func matches(m *dto.Metric, want Labels) bool {
	if len(m.GetLabel()) != len(want) {
		return false
	}
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// Find returns the series of name with exactly the labels want, or nil.
func (f Families) Find(name string, want Labels) *dto.Metric {
	for _, m := range f[name].GetMetric() {
		if matches(m, want) {
			return m
		}
	}
	return nil
}

// Value is the value of a counter or gauge series of name with exactly the labels want (0
// when there is none), and whether it exists.
func (f Families) Value(name string, want Labels) (float64, bool) {
	m := f.Find(name, want)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// Count is the sample count of a histogram series (0 when there is none).
func (f Families) Count(name string, want Labels) uint64 {
	if m := f.Find(name, want); m != nil && m.Histogram != nil {
		return m.Histogram.GetSampleCount()
	}
	return 0
}

// Sum is the sample sum of a histogram series (0 when there is none).
func (f Families) Sum(name string, want Labels) float64 {
	if m := f.Find(name, want); m != nil && m.Histogram != nil {
		return m.Histogram.GetSampleSum()
	}
	return 0
}

// Series is how many series the families whose names start with prefix hold, all together.
func (f Families) Series(prefix string) int {
	n := 0
	for name, fam := range f {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			n += len(fam.GetMetric())
		}
	}
	return n
}

// LabelValues lists the values label takes in the series of name, sorted, without repeats.
func (f Families) LabelValues(name, label string) []string {
	var out []string
	for _, m := range f[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}
