package governance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/llmgw/llmgw/gateway/budget"
	"github.com/llmgw/llmgw/gateway/limiter"
)

// Request is what Match needs to know of a request. The caller keeps ownership of every field;
// Match does not retain them.
type Request struct {
	// User, Teams and VirtualAccount are the principal: a user with their teams, or a virtual
	// account with its team.
	User           string
	Teams          []string
	VirtualAccount string
	// Model is the fully qualified name ("<account>/<model>") of the model serving the request.
	Model string
	// VirtualModel is the name the client asked for when another model serves the request (a
	// virtual model, or a model a routing rule sent elsewhere); empty otherwise.
	VirtualModel string
	// Metadata is the request's metadata (see ParseMetadata); nil when it has none.
	Metadata map[string]string
}

// Match appends to limits one check per unit of every matching rate limit and bucket, and to
// budgets one check per matching budget and bucket, and returns both slices. The checks carry
// Rule, Unit, Bucket, Limit, Audit (and Thresholds for budgets); the caller sets Amount. Match
// allocates only when a slice must grow or a bucket key is new; see the package documentation.
// r may be nil: nothing matches.
func (r *Rules) Match(req *Request, limits []limiter.Check, budgets []budget.Check) ([]limiter.Check, []budget.Check) {
	if r == nil {
		return limits, budgets
	}
	for i := range r.limits {
		rl := &r.limits[i]
		if !rl.cond.match(req) {
			continue
		}
		teams := bucketTeams(rl.dims, &rl.cond, req)
		for t := range max(1, teams.n) {
			bucket := r.bucket(rl.dims, req, teams.at(t))
			for _, c := range rl.limits {
				c.Bucket = bucket
				limits = append(limits, c)
			}
		}
	}
	for i := range r.budgets {
		br := &r.budgets[i]
		if !br.cond.match(req) {
			continue
		}
		teams := bucketTeams(br.dims, &br.cond, req)
		for t := range max(1, teams.n) {
			c := br.check
			c.Bucket = r.bucket(br.dims, req, teams.at(t))
			budgets = append(budgets, c)
		}
	}
	return limits, budgets
}

// cond is a compiled Condition.
type cond struct {
	anySubject bool // no subjects, or "*"
	users      []string
	teams      []string
	vas        []string
	anyModel   bool     // no models, or "*"
	models     []string // exact FQNs
	accounts   []string // "<account>/" of "<account>/*"
	metadata   []kv
}

type kv struct{ k, v string }

func compileCond(c Condition) (cond, error) {
	out := cond{anySubject: len(c.Subjects) == 0, anyModel: len(c.Models) == 0}
	for _, s := range c.Subjects {
		s, err := NormalizeSubject(s)
		if err != nil {
			return out, err
		}
		kind, name, _ := strings.Cut(s, ":")
		switch kind {
		case "*":
			out.anySubject = true
		case KindUser:
			out.users = append(out.users, name)
		case KindTeam:
			out.teams = append(out.teams, name)
		case KindVirtualAccount:
			out.vas = append(out.vas, name)
		}
	}
	for _, m := range c.Models {
		account, name, ok := strings.Cut(m, "/")
		switch {
		case m == "*":
			out.anyModel = true
		case !ok || account == "" || name == "":
			return out, fmt.Errorf("model %q can never match", m)
		case name == "*":
			out.accounts = append(out.accounts, account+"/")
		default:
			out.models = append(out.models, m)
		}
	}
	for k, v := range c.Metadata {
		out.metadata = append(out.metadata, kv{k, v})
	}
	slices.SortFunc(out.metadata, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	return out, nil
}

func (c *cond) match(req *Request) bool {
	return c.matchSubject(req) && c.matchModel(req) && c.matchMetadata(req)
}

func (c *cond) matchSubject(req *Request) bool {
	if c.anySubject {
		return true
	}
	if req.User != "" && slices.Contains(c.users, req.User) {
		return true
	}
	if req.VirtualAccount != "" && slices.Contains(c.vas, req.VirtualAccount) {
		return true
	}
	for _, t := range req.Teams {
		if slices.Contains(c.teams, t) {
			return true
		}
	}
	return false
}

func (c *cond) matchModel(req *Request) bool {
	if c.anyModel {
		return true
	}
	// The name the client sent counts as well as the model serving it: a rule for a virtual
	// model, or for a real model routed elsewhere, counts the requests routed through it.
	return c.matchFQN(req.Model) || c.matchFQN(req.VirtualModel)
}

// matchFQN reports whether the model named m ("<account>/<model>") is one of c's models or in
// one of its accounts.
func (c *cond) matchFQN(m string) bool {
	if m == "" {
		return false
	}
	if slices.Contains(c.models, m) {
		return true
	}
	for _, a := range c.accounts {
		if strings.HasPrefix(m, a) {
			return true
		}
	}
	return false
}

func (c *cond) matchMetadata(req *Request) bool {
	for _, m := range c.metadata {
		v, ok := req.Metadata[m.k]
		if !ok || v != m.v {
			return false
		}
	}
	return true
}

// dim is a compiled applies_per entry.
type dim struct {
	kind  string // KindUser, KindTeam, KindVirtualAccount, KindModel or "metadata"
	key   string // the metadata key
	label string // as written: "user", "metadata.project"
}

func compileDims(in []string) ([]dim, error) {
	if len(in) > MaxAppliesPer {
		return nil, fmt.Errorf("applies_per has %d entries; at most %d", len(in), MaxAppliesPer)
	}
	var out []dim
	for _, s := range in {
		s, err := NormalizeDimension(s)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(d dim) bool { return d.label == s }) {
			return nil, fmt.Errorf("applies_per names %q twice", s)
		}
		d := dim{kind: s, label: s}
		if key, ok := strings.CutPrefix(s, metadataPrefix); ok {
			d.kind, d.key = "metadata", key
		}
		out = append(out, d)
	}
	return out, nil
}

// teamList is the teams a rule's "team" dimension iterates over: all of the request's teams,
// or only those the rule's subjects name (filter set), n of them. n is 0 when the rule has no
// team dimension or the caller no team.
type teamList struct {
	teams  []string
	filter []string
	n      int
}

// at returns the i-th team of the list, or "" when the list is empty.
func (l teamList) at(i int) string {
	if l.n == 0 {
		return ""
	}
	for _, t := range l.teams {
		if l.filter != nil && !slices.Contains(l.filter, t) {
			continue
		}
		if i == 0 {
			return t
		}
		i--
	}
	return ""
}

func bucketTeams(dims []dim, c *cond, req *Request) teamList {
	if !slices.ContainsFunc(dims, func(d dim) bool { return d.kind == KindTeam }) || len(req.Teams) == 0 {
		return teamList{}
	}
	l := teamList{teams: req.Teams, n: len(req.Teams)}
	named := 0
	for _, t := range req.Teams {
		if slices.Contains(c.teams, t) {
			named++
		}
	}
	if named > 0 {
		l.filter, l.n = c.teams, named
	}
	return l
}

// bucket returns the interned bucket key of the request under dims, with team as the team.
func (r *Rules) bucket(dims []dim, req *Request, team string) string {
	if len(dims) == 0 {
		return ""
	}
	var arr [192]byte
	b := arr[:0]
	for i, d := range dims {
		if i > 0 {
			b = append(b, '|')
		}
		b = append(b, d.label...)
		b = append(b, ':')
		var v string
		switch d.kind {
		case KindUser:
			v = req.User
		case KindTeam:
			v = team
		case KindVirtualAccount:
			v = req.VirtualAccount
		case KindModel:
			v = req.Model
		default:
			v = req.Metadata[d.key]
		}
		b = appendEscaped(b, v)
	}
	return r.keys.get(b)
}

// appendEscaped appends v with '|' and '\' escaped by '\', so that no value can forge another
// bucket's key.
func appendEscaped(b []byte, v string) []byte {
	if !strings.ContainsAny(v, `|\`) {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '|' || v[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, v[i])
	}
	return b
}

// Matcher is a compiled Condition, for rules outside this package that select requests the
// way rate limits and budgets do (the routing config's load-balancing rules). It is immutable
// and safe for concurrent use.
type Matcher struct{ c cond }

// NewMatcher compiles c; the error says which subject or model can never match.
func NewMatcher(c Condition) (*Matcher, error) {
	cc, err := compileCond(c)
	if err != nil {
		return nil, err
	}
	return &Matcher{c: cc}, nil
}

// Match reports whether req meets the condition: the AND of its subjects, models and metadata,
// as the package documentation says. It allocates nothing.
func (m *Matcher) Match(req *Request) bool { return m.c.match(req) }
