package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"

	"github.com/llmgw/llmgw/ent"
	"github.com/llmgw/llmgw/ent/apikey"
	"github.com/llmgw/llmgw/ent/auditevent"
	"github.com/llmgw/llmgw/ent/predicate"
	"github.com/llmgw/llmgw/gateway/apierr"
)

// Resource kinds of audit events (Audit.Kind), as AuditEvent.resource_kind spells them.
const (
	AuditProviderAccount  = "provider_account"
	AuditModel            = "model"
	AuditUser             = "user"
	AuditTeam             = "team"
	AuditVirtualAccount   = "virtual_account"
	AuditAPIKey           = "api_key"
	AuditGatewayToken     = "gateway_token"
	AuditAuthzRule        = "authz_rule"
	AuditVirtualModel     = "virtual_model"
	AuditRoutingRule      = "routing_rule"
	AuditRateLimit        = "rate_limit"
	AuditBudget           = "budget"
	AuditIdentityProvider = "identity_provider"
)

// PrincipalAdminToken is the audit principal of the admin token.
const PrincipalAdminToken = "admin-token"

// DefaultAuditRetention is the default Options.AuditRetention: the number of audit events kept.
const DefaultAuditRetention = 100_000

// Audit describes the Admin API write a context carries (WithAudit): who makes it and to what.
// The store records it, with the resource as it reads before and after the write, in the
// write's own transaction, so a committed write always has its event and a failed one none.
type Audit struct {
	// Principal is PrincipalAdminToken or "user:<name>".
	Principal string
	// KeyID is the API key used; empty for the admin token.
	KeyID string
	// RPC is the Admin API method; Action is "create", "update", "delete", "revoke" or "rotate".
	RPC, Action string
	// Kind is the resource kind (AuditUser, ...); Name identifies it as the kind's Get reads it:
	// a name or id, "<account>/<name>" for a model, "<group>/<name>" for a virtual model. A
	// create whose id the store draws (an API key, a gateway token) leaves it empty.
	Kind, Name string
}

type auditKey struct{}

// WithAudit returns ctx carrying a: every configuration write made with it is recorded in the
// audit log. A context without one records nothing (the config file's writes, bootstrap).
func WithAudit(ctx context.Context, a Audit) context.Context {
	return context.WithValue(ctx, auditKey{}, &a)
}

func auditFrom(ctx context.Context) *Audit {
	a, _ := ctx.Value(auditKey{}).(*Audit)
	return a
}

// auditName names the resource a create draws the id of, when the context's audit has none.
func auditName(ctx context.Context, name string) {
	if a := auditFrom(ctx); a != nil && a.Name == "" {
		a.Name = name
	}
}

// auditBefore reads the resource a's write changes, in tx, before the write: nil when it does
// not exist.
func (s *Store) auditBefore(ctx context.Context, tx *ent.Tx, a *Audit) (proto.Message, error) {
	if a.Name == "" {
		return nil, nil
	}
	return s.auditLoad(ctx, tx, a)
}

// auditRecord writes a's event in tx, after the write, and prunes the log to its bound.
func (s *Store) auditRecord(ctx context.Context, tx *ent.Tx, a *Audit, before proto.Message) error {
	var after proto.Message
	if a.Name != "" {
		var err error
		if after, err = s.auditLoad(ctx, tx, a); err != nil {
			return err
		}
	}
	b, err := auditJSON(before)
	if err != nil {
		return err
	}
	af, err := auditJSON(after)
	if err != nil {
		return err
	}
	ev, err := tx.AuditEvent.Create().
		SetTime(time.Now()).
		SetPrincipal(a.Principal).
		SetKeyID(a.KeyID).
		SetRPC(a.RPC).
		SetAction(a.Action).
		SetResourceKind(a.Kind).
		SetResourceName(a.Name).
		SetBefore(b).
		SetAfter(af).
		SetChangedFields(changedFields(b, af)).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	keep := s.opts.AuditRetention
	if keep <= 0 {
		keep = DefaultAuditRetention
	}
	if ev.ID > keep {
		if _, err := tx.AuditEvent.Delete().Where(auditevent.IDLTE(ev.ID - keep)).Exec(ctx); err != nil {
			return fmt.Errorf("prune audit log: %w", err)
		}
	}
	return nil
}

// auditLoad reads a's resource through the Admin API's own reads, on tx: so what is recorded
// is what the API shows, which never holds a secret. A missing resource is nil.
func (s *Store) auditLoad(ctx context.Context, tx *ent.Tx, a *Audit) (proto.Message, error) {
	in := *s
	in.client = tx.Client()
	first, second, _ := strings.Cut(a.Name, "/")
	var (
		m   proto.Message
		err error
	)
	switch a.Kind {
	case AuditProviderAccount:
		m, err = in.GetProviderAccount(ctx, a.Name)
	case AuditModel:
		m, err = in.GetModel(ctx, first, second)
	case AuditUser:
		m, err = in.GetUser(ctx, a.Name)
	case AuditTeam:
		m, err = in.GetTeam(ctx, a.Name)
	case AuditVirtualAccount:
		m, err = in.GetVirtualAccount(ctx, a.Name)
	case AuditAPIKey:
		m, err = in.GetAPIKey(ctx, a.Name)
	case AuditGatewayToken:
		var t *ent.GatewayToken
		if t, err = in.client.GatewayToken.Get(ctx, a.Name); err == nil {
			m = gatewayTokenProto(t)
		} else {
			err = classify(err, kindGatewayToken, a.Name)
		}
	case AuditAuthzRule:
		m, err = in.GetAuthzRule(ctx, a.Name)
	case AuditVirtualModel:
		m, err = in.GetVirtualModel(ctx, first, second)
	case AuditRoutingRule:
		m, err = in.GetRoutingRule(ctx, a.Name)
	case AuditRateLimit:
		m, err = in.GetRateLimit(ctx, a.Name)
	case AuditBudget:
		m, err = in.GetBudget(ctx, a.Name)
	case AuditIdentityProvider:
		m, err = in.GetIdentityProvider(ctx, a.Name)
	default:
		return nil, fmt.Errorf("audit: unknown resource kind %q", a.Kind)
	}
	var ae *apierr.Error
	if errors.As(err, &ae) && ae.Kind == apierr.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read %s %s: %w", a.Kind, a.Name, err)
	}
	return m, nil
}

// GetAPIKey returns the API key with the id, without its secret.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*adminv1.ApiKey, error) {
	k, err := keyQuery(s.client.ApiKey.Query().Where(apikey.ID(id))).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("get api key %s: %w", id, classify(err, kindAPIKey, id))
	}
	return keyProto(k), nil
}

// auditJSON is m as protojson with secrets removed: the API's reads hold none, and this clears
// any write-only secret field all the same and cuts webhook URLs (a Slack webhook's path is its
// credential) to their scheme and host. Nil is "".
func auditJSON(m proto.Message) (string, error) {
	if m == nil {
		return "", nil
	}
	m = proto.Clone(m)
	scrub(m.ProtoReflect())
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("audit: encode: %w", err)
	}
	return string(b), nil
}

// secretFields are the write-only secret fields of the Admin API's resources.
var secretFields = map[protoreflect.Name]bool{"api_key": true, "secret": true, "hash": true}

// scrub clears m's secret fields and cuts URLs, recursively.
func scrub(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() && secretFields[fd.Name()]:
			m.Clear(fd)
		case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() && fd.Name() == "url":
			m.Set(fd, protoreflect.ValueOfString(cutURL(v.String())))
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			l := v.List()
			for i := range l.Len() {
				scrub(l.Get(i).Message())
			}
		case fd.Kind() == protoreflect.MessageKind && fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					scrub(mv.Message())
				}
				return true
			})
		case fd.Kind() == protoreflect.MessageKind:
			scrub(v.Message())
		}
		return true
	})
}

// cutURL keeps a URL's scheme and host.
func cutURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(redacted)"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// changedFields lists the top-level fields whose values differ between two protojson objects.
func changedFields(before, after string) []string {
	var b, a map[string]any
	_ = json.Unmarshal([]byte(before), &b) // "" leaves nil
	_ = json.Unmarshal([]byte(after), &a)
	keys := slices.Collect(maps.Keys(b))
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := []string{}
	for _, k := range keys {
		if !reflect.DeepEqual(b[k], a[k]) {
			out = append(out, k)
		}
	}
	return out
}

// Default and largest page sizes of ListAuditEvents.
const (
	DefaultAuditPageSize = 50
	MaxAuditPageSize     = 1000
)

// ListAuditEvents returns a page of the audit log, newest first, filtered as in says, and the
// token of the next page ("" on the last).
func (s *Store) ListAuditEvents(ctx context.Context, in *adminv1.ListAuditEventsRequest) ([]*adminv1.AuditEvent, string, error) {
	size := int(in.GetPageSize())
	switch {
	case size < 0:
		return nil, "", fmt.Errorf("list audit events: %w", apierr.Invalid("page_size", "page_size must not be negative"))
	case size == 0:
		size = DefaultAuditPageSize
	case size > MaxAuditPageSize:
		size = MaxAuditPageSize
	}
	var preds []predicate.AuditEvent
	if k := in.GetResourceKind(); k != "" {
		preds = append(preds, auditevent.ResourceKind(k))
	}
	if p := in.GetPrincipal(); p != "" {
		preds = append(preds, auditevent.Principal(p))
	}
	if in.StartTime != nil {
		preds = append(preds, auditevent.TimeGTE(in.GetStartTime().AsTime()))
	}
	if in.EndTime != nil {
		preds = append(preds, auditevent.TimeLT(in.GetEndTime().AsTime()))
	}
	if tok := in.GetPageToken(); tok != "" {
		id, err := strconv.Atoi(strings.TrimPrefix(tok, "ae"))
		if err != nil || !strings.HasPrefix(tok, "ae") || id <= 0 {
			return nil, "", fmt.Errorf("list audit events: %w", apierr.Invalid("page_token", "page_token is not one this API returned"))
		}
		preds = append(preds, auditevent.IDLT(id))
	}
	evs, err := s.client.AuditEvent.Query().Where(preds...).Order(ent.Desc(auditevent.FieldID)).Limit(size + 1).All(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	next := ""
	if len(evs) > size {
		evs = evs[:size]
		next = "ae" + strconv.Itoa(evs[size-1].ID)
	}
	out := make([]*adminv1.AuditEvent, len(evs))
	for i, ev := range evs {
		if out[i], err = auditProto(ev); err != nil {
			return nil, "", fmt.Errorf("list audit events: %w", err)
		}
	}
	return out, next, nil
}

func auditProto(ev *ent.AuditEvent) (*adminv1.AuditEvent, error) {
	out := &adminv1.AuditEvent{
		Id:            strconv.Itoa(ev.ID),
		Time:          ts(ev.Time),
		Principal:     ev.Principal,
		KeyId:         ev.KeyID,
		Rpc:           ev.RPC,
		Action:        ev.Action,
		ResourceKind:  ev.ResourceKind,
		ResourceName:  ev.ResourceName,
		ChangedFields: ev.ChangedFields,
	}
	var err error
	if out.Before, err = jsonStruct(ev.Before); err != nil {
		return nil, err
	}
	if out.After, err = jsonStruct(ev.After); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonStruct decodes a stored protojson object; "" is nil.
func jsonStruct(s string) (*structpb.Struct, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode audit resource: %w", err)
	}
	return structpb.NewStruct(m)
}
