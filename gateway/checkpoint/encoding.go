package checkpoint

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// version is the version of the encodings this package writes and reads.
const version = 1

// header is what every encoding starts with.
type header struct {
	V int `json:"v"`
}

// limiterState is the encoding of limiter.Limiter.Snapshot: the buckets grouped by rule and
// unit, their times in seconds after T (Unix seconds), which keeps the numbers short.
type limiterState struct {
	V     int           `json:"v"`
	T     int64         `json:"t,omitempty"`
	Rules []limiterRule `json:"r"`
}

type limiterRule struct {
	Rule    string          `json:"r"`
	Unit    string          `json:"u"`
	Buckets []limiterBucket `json:"b"`
}

// limiterBucket is the counts of one bucket: N[i] is the count of the sub-window that starts
// Start + i sub-windows.
type limiterBucket struct {
	Bucket string  `json:"k,omitempty"`
	Start  int64   `json:"t,omitempty"`
	N      []int64 `json:"n"`
}

// encodeLimiter encodes counts in a canonical order, so that equal counts give equal bytes.
func encodeLimiter(counts []limiter.Count) ([]byte, error) {
	slices.SortFunc(counts, func(a, b limiter.Count) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Bucket, b.Bucket), a.Start.Compare(b.Start))
	})
	st := limiterState{V: version, Rules: []limiterRule{}}
	for i, c := range counts {
		if s := c.Start.Unix(); i == 0 || s < st.T {
			st.T = s
		}
	}
	for i := 0; i < len(counts); {
		c := counts[i]
		if n := len(st.Rules); n == 0 || st.Rules[n-1].Rule != c.Rule || st.Rules[n-1].Unit != c.Unit.String() {
			st.Rules = append(st.Rules, limiterRule{Rule: c.Rule, Unit: c.Unit.String()})
		}
		r := &st.Rules[len(st.Rules)-1]
		sub := int64(c.Unit.SubWindow() / time.Second)
		start := c.Start.Unix()
		b := limiterBucket{Bucket: c.Bucket, Start: start - st.T}
		for ; i < len(counts) && counts[i].Rule == c.Rule && counts[i].Unit == c.Unit && counts[i].Bucket == c.Bucket; i++ {
			k := (counts[i].Start.Unix() - start) / sub
			for int64(len(b.N)) < k {
				b.N = append(b.N, 0)
			}
			if int64(len(b.N)) == k {
				b.N = append(b.N, counts[i].N)
			}
		}
		r.Buckets = append(r.Buckets, b)
	}
	return json.Marshal(st)
}

// decodeLimiter decodes what encodeLimiter wrote. It reports how many buckets it skipped for
// an unknown unit.
func decodeLimiter(data []byte) (counts []limiter.Count, skipped int, err error) {
	var st limiterState
	if err := decode(data, &st); err != nil {
		return nil, 0, err
	}
	for _, r := range st.Rules {
		u, err := limiter.ParseUnit(r.Unit)
		if err != nil {
			skipped += len(r.Buckets)
			continue
		}
		sub := u.SubWindow()
		for _, b := range r.Buckets {
			start := time.Unix(st.T+b.Start, 0).UTC()
			for i, n := range b.N {
				if n > 0 {
					counts = append(counts, limiter.Count{Rule: r.Rule, Unit: u, Bucket: b.Bucket, Start: start.Add(time.Duration(i) * sub), N: n})
				}
			}
		}
	}
	return counts, skipped, nil
}

// budgetState is the encoding of budget.Ledger.Snapshot: the buckets grouped by rule, unit and
// period.
type budgetState struct {
	V     int          `json:"v"`
	Rules []budgetRule `json:"r"`
}

// budgetRule is the spend of a rule's buckets in the period that starts at Period, in Unix
// seconds.
type budgetRule struct {
	Rule    string         `json:"r"`
	Unit    string         `json:"u"`
	Period  int64          `json:"p"`
	Buckets []budgetBucket `json:"b"`
}

type budgetBucket struct {
	Bucket   string `json:"k,omitempty"`
	Spend    int64  `json:"s,omitempty"`
	Reserved int64  `json:"rs,omitempty"`
	Alerted  int    `json:"a,omitempty"`
}

// encodeBudget encodes spend in a canonical order, so that equal spend gives equal bytes.
func encodeBudget(spend []budget.Spend) ([]byte, error) {
	slices.SortFunc(spend, func(a, b budget.Spend) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Unit, b.Unit), a.PeriodStart.Compare(b.PeriodStart), cmp.Compare(a.Bucket, b.Bucket))
	})
	st := budgetState{V: version, Rules: []budgetRule{}}
	for _, s := range spend {
		p := s.PeriodStart.Unix()
		if n := len(st.Rules); n == 0 || st.Rules[n-1].Rule != s.Rule || st.Rules[n-1].Unit != s.Unit.String() || st.Rules[n-1].Period != p {
			st.Rules = append(st.Rules, budgetRule{Rule: s.Rule, Unit: s.Unit.String(), Period: p})
		}
		r := &st.Rules[len(st.Rules)-1]
		r.Buckets = append(r.Buckets, budgetBucket{Bucket: s.Bucket, Spend: s.Spend, Reserved: s.Reserved, Alerted: s.Alerted})
	}
	return json.Marshal(st)
}

// decodeBudget decodes what encodeBudget wrote, counting reservations as spend: they belong to
// requests of the process that saved them, which may have reached the provider and will never
// settle here. It reports how many entries it skipped for an unknown unit.
func decodeBudget(data []byte) (spend []budget.Spend, skipped int, err error) {
	var st budgetState
	if err := decode(data, &st); err != nil {
		return nil, 0, err
	}
	for _, r := range st.Rules {
		u, err := budget.ParseUnit(r.Unit)
		if err != nil {
			skipped += len(r.Buckets)
			continue
		}
		start := time.Unix(r.Period, 0).UTC()
		for _, b := range r.Buckets {
			spend = append(spend, budget.Spend{Rule: r.Rule, Unit: u, Bucket: b.Bucket, PeriodStart: start,
				Spend: max(b.Spend, 0) + max(b.Reserved, 0), Alerted: b.Alerted})
		}
	}
	return spend, skipped, nil
}

// decode checks the version before decoding data into v.
func decode(data []byte, v any) error {
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if h.V != version {
		return fmt.Errorf("unknown version %d (this build reads version %d)", h.V, version)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode version %d: %w", version, err)
	}
	return nil
}
