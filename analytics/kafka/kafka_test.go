package kafka

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"
	kafkazstd "github.com/segmentio/kafka-go/compress/zstd"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"

	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/analytics/spool"
	"github.com/llmgw/llmgw/gateway/chat"
	"github.com/llmgw/llmgw/gateway/usage"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

const topic = "usage-test"

// logBuffer collects a logger's output.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// broker starts a one-broker kfake cluster on port with the test topic (one partition, so
// the topic's order is the order written).
func broker(t testing.TB, port int, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type harness struct {
	p    *Producer
	sp   *spool.Spool
	logs *logBuffer
	dir  string
}

// newProducer returns a producer to 127.0.0.1:port with its spool in dir (a new one when
// empty) capped at spoolMax, and short timeouts.
func newProducer(t testing.TB, port int, dir string, spoolMax int64, edit func(*Options)) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sp, err := spool.Open(dir, spoolMax, logger)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Topic: topic, WriteTimeout: 3 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	if edit != nil {
		edit(&o)
	}
	p, err := New(o, event.NewConverter("replica-1", "region-1", nil), sp, logger)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{p: p, sp: sp, logs: logs, dir: dir}
}

// run runs the producer's replays until the test ends.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.p.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func events(from, to int) []usage.Event {
	var out []usage.Event
	for i := from; i < to; i++ {
		out = append(out, usage.Event{
			RequestID: fmt.Sprintf("01938f7e-5c2a-7b3e-9f1d-%012d", i), Time: time.Unix(1_790_000_000, 0), Surface: "openai", Principal: "user:alice",
			User: "alice", Model: "acct/gpt-4o-mini", Target: "acct/gpt-4o-mini", Operation: "chat", Status: "ok", HTTPStatus: 200,
			Attempts: []usage.Attempt{{Target: "acct/gpt-4o-mini", Status: "ok", HTTPStatus: 200, Latency: time.Second}},
			Usage:    chat.Usage{PromptTokens: int64(i), CompletionTokens: 7, TotalTokens: int64(i) + 7}, Latency: time.Second, Upstream: 990 * time.Millisecond,
		})
	}
	return out
}

func ids(from, to int) string {
	var out []string
	for _, e := range events(from, to) {
		out = append(out, e.RequestID)
	}
	return strings.Join(out, ",")
}

// record hands es to the producer in batches of 50, as a queue would.
func record(p *Producer, es []usage.Event) {
	for i := 0; i < len(es); i += 50 {
		p.RecordBatch(context.Background(), es[i:min(i+50, len(es))])
	}
}

// read reads the topic from its start until it has n messages (failing after 20 s), then
// makes sure no more follow, and returns their keys, checking each value decodes as its key's
// event.
func read(t *testing.T, addr string, n int, dialer *kafkago.Dialer) []string {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond, Dialer: dialer})
	defer r.Close()
	var keys []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(keys) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d messages: %v", len(keys), n, err)
		}
		var ev usagev1.UsageEvent
		if err := proto.Unmarshal(m.Value, &ev); err != nil {
			t.Fatalf("message %s: %v", m.Key, err)
		}
		if ev.GetEventId() != string(m.Key) || ev.GetReplica() != "replica-1" || ev.GetModel() != "acct/gpt-4o-mini" || ev.GetUpstreamUs() != 990000 {
			t.Fatalf("message %s: event %v", m.Key, &ev)
		}
		keys = append(keys, string(m.Key))
	}
	// Nothing more: a short read finds no further message.
	extra, cancelExtra := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelExtra()
	if m, err := r.ReadMessage(extra); err == nil {
		t.Fatalf("a message beyond the %d expected: %s", n, m.Key)
	}
	return keys
}

// eventually polls cond until it holds, failing after 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in 20 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEveryEventIsAMessage: N events make exactly N messages keyed by event id, whose values
// are the events; nothing is spooled.
func TestEveryEventIsAMessage(t *testing.T) {
	port := freePort(t)
	c := broker(t, port)
	h := newProducer(t, port, "", 1<<20, nil)
	record(h.p, events(0, 500))
	if h.p.Spooled() != 0 || h.p.Dropped() != 0 {
		t.Fatalf("spooled %d dropped %d with Kafka up", h.p.Spooled(), h.p.Dropped())
	}
	if got := strings.Join(read(t, c.ListenAddrs()[0], 500, nil), ","); got != ids(0, 500) {
		t.Error("the messages are not the events in order")
	}
	if err := h.p.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestBrokerDownSpoolsAndReplaysInOrder: with the broker gone every event lands in the spool
// and none is dropped; when a broker is back on the same port, all are delivered once, in
// order, and the spool empties.
func TestBrokerDownSpoolsAndReplaysInOrder(t *testing.T) {
	port := freePort(t)
	c := broker(t, port)
	h := newProducer(t, port, "", 1<<20, nil)
	h.run(t)
	record(h.p, events(0, 10))
	c.Close()

	record(h.p, events(10, 310))
	if h.p.Spooled() != 300 || h.p.Dropped() != 0 {
		t.Fatalf("broker down: %d spooled, %d dropped; want 300, 0", h.p.Spooled(), h.p.Dropped())
	}
	if h.p.SpoolBytes() == 0 {
		t.Error("spool size 0 with events in it")
	}
	if !strings.Contains(h.logs.String(), "spooling them to disk") {
		t.Errorf("the switch to the spool is not logged:\n%s", h.logs)
	}

	c2 := broker(t, port) // the old broker's log is gone: only the spooled events are on it
	eventually(t, "spool replayed", func() bool { return h.p.Spooled() == 0 })
	record(h.p, events(310, 320)) // direct again, after the replayed ones
	if got := strings.Join(read(t, c2.ListenAddrs()[0], 310, nil), ","); got != ids(10, 320) {
		t.Errorf("after the outage the topic holds %q..., want events 10 to 319 in order", got[:60])
	}
	if h.p.SpoolBytes() != 0 {
		t.Errorf("spool holds %d bytes after replay", h.p.SpoolBytes())
	}
}

// TestFullSpoolCountsDrops: with Kafka down and the spool full, the events that do not fit
// are counted and logged; the others stay spooled.
func TestFullSpoolCountsDrops(t *testing.T) {
	port := freePort(t) // nothing listens
	h := newProducer(t, port, "", 16<<10, nil)
	record(h.p, events(0, 200))
	spooled, dropped := h.p.Spooled(), h.p.Dropped()
	if spooled == 0 || dropped == 0 || spooled+int64(dropped) != 200 {
		t.Fatalf("spooled %d dropped %d, want both and 200 in all", spooled, dropped)
	}
	if h.p.SpoolBytes() > 16<<10 {
		t.Errorf("spool %d bytes, over its cap", h.p.SpoolBytes())
	}
	if !strings.Contains(h.logs.String(), "usage events dropped") {
		t.Errorf("drops not logged:\n%s", h.logs)
	}
	// The spooled ones are the oldest, and they are delivered once Kafka is back; Close
	// reports the drops not yet logged.
	c := broker(t, port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), fmt.Sprintf("dropped_total=%d", dropped)) {
		t.Errorf("the total dropped is not logged:\n%s", h.logs)
	}
	if got := strings.Join(read(t, c.ListenAddrs()[0], int(spooled), nil), ","); got != ids(0, int(spooled)) {
		t.Errorf("delivered %q, want the first %d events", got, spooled)
	}
}

// TestRestartDeliversTheSpool: events one producer spooled (Kafka down at its Close) are
// delivered by the next producer on the same spool directory, a torn record at the spool's
// end (a crash mid-append) cut off and the rest delivered.
func TestRestartDeliversTheSpool(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			port := freePort(t)
			h := newProducer(t, port, "", 1<<20, nil)
			record(h.p, events(0, 40))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if err := h.p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(h.logs.String(), "left in the spool for the next start") {
				t.Errorf("what is left is not logged:\n%s", h.logs)
			}
			want := 40
			if torn {
				segs, _ := filepath.Glob(filepath.Join(h.dir, "*.seg"))
				st, _ := os.Stat(segs[len(segs)-1])
				if err := os.Truncate(segs[len(segs)-1], st.Size()-3); err != nil {
					t.Fatal(err)
				}
				want = 39
			}

			c := broker(t, port)
			h2 := newProducer(t, port, h.dir, 1<<20, nil)
			if h2.p.Spooled() != int64(want) {
				t.Fatalf("the new producer finds %d spooled events, want %d", h2.p.Spooled(), want)
			}
			h2.run(t)
			eventually(t, "spool replayed", func() bool { return h2.p.Spooled() == 0 })
			if got := strings.Join(read(t, c.ListenAddrs()[0], want, nil), ","); got != ids(0, want) {
				t.Errorf("delivered %q, want events 0 to %d", got, want-1)
			}
		})
	}
}

// TestCloseDeliversTheSpool: Close writes what the spool holds when Kafka is back.
func TestCloseDeliversTheSpool(t *testing.T) {
	port := freePort(t)
	h := newProducer(t, port, "", 1<<20, nil)
	record(h.p, events(0, 20))
	if h.p.Spooled() != 20 {
		t.Fatalf("%d spooled", h.p.Spooled())
	}
	c := broker(t, port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if h.sp.Len() != 0 {
		t.Errorf("%d events left after Close", h.sp.Len())
	}
	if got := strings.Join(read(t, c.ListenAddrs()[0], 20, nil), ","); got != ids(0, 20) {
		t.Errorf("delivered %q", got)
	}
}

// TestSASL: each mechanism authenticates with the right password; with a wrong one nothing
// reaches the topic and the events are spooled.
func TestSASL(t *testing.T) {
	for _, tt := range []struct{ mech, kfakeMech string }{
		{SASLPlain, "PLAIN"},
		{SASLScramSHA256, "SCRAM-SHA-256"},
		{SASLScramSHA512, "SCRAM-SHA-512"},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			port := freePort(t)
			c := broker(t, port, kfake.EnableSASL(), kfake.Superuser(tt.kfakeMech, "llmgw", "s3cret"))
			wrong := newProducer(t, port, "", 1<<20, func(o *Options) {
				o.SASLMechanism, o.Username, o.Password = tt.mech, "llmgw", "wrong"
			})
			record(wrong.p, events(0, 5))
			if wrong.p.Spooled() != 5 {
				t.Errorf("wrong password: %d spooled, want 5", wrong.p.Spooled())
			}
			right := newProducer(t, port, "", 1<<20, func(o *Options) {
				o.SASLMechanism, o.Username, o.Password = tt.mech, "llmgw", "s3cret"
			})
			record(right.p, events(5, 10))
			if right.p.Spooled() != 0 {
				t.Fatalf("right password: %d spooled:\n%s", right.p.Spooled(), right.logs)
			}
			m, err := scramOrPlain(tt.mech, "llmgw", "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(read(t, c.ListenAddrs()[0], 5, &kafkago.Dialer{Timeout: 5 * time.Second, SASLMechanism: m}), ","); got != ids(5, 10) {
				t.Errorf("topic holds %q", got)
			}
		})
	}
}

func scramOrPlain(mech, user, pass string) (sasl.Mechanism, error) {
	return Mechanism(Options{SASLMechanism: mech, Username: user, Password: pass})
}

// TestTLS: with the broker's CA the producer writes over TLS; without TLS it cannot.
func TestTLS(t *testing.T) {
	serverCfg, clientCfg := testTLS(t)
	port := freePort(t)
	c := broker(t, port, kfake.TLS(serverCfg))
	plain := newProducer(t, port, "", 1<<20, func(o *Options) { o.WriteTimeout = 500 * time.Millisecond })
	record(plain.p, events(0, 3))
	if plain.p.Spooled() != 3 {
		t.Errorf("plaintext to a TLS broker: %d spooled, want 3", plain.p.Spooled())
	}
	secure := newProducer(t, port, "", 1<<20, func(o *Options) { o.TLS = clientCfg })
	record(secure.p, events(3, 6))
	if secure.p.Spooled() != 0 {
		t.Fatalf("over TLS: %d spooled:\n%s", secure.p.Spooled(), secure.logs)
	}
	if got := strings.Join(read(t, c.ListenAddrs()[0], 3, &kafkago.Dialer{Timeout: 5 * time.Second, TLS: clientCfg}), ","); got != ids(3, 6) {
		t.Errorf("topic holds %q", got)
	}
}

// testTLS returns a server config with a certificate for 127.0.0.1 and a client config that
// trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestOptionsChecked(t *testing.T) {
	sp, err := spool.Open(t.TempDir(), 1<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	conv := event.NewConverter("", "", nil)
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"no brokers", Options{}, "no brokers"},
		{"a username without a mechanism", Options{Brokers: []string{"b:9092"}, Username: "u"}, "without a SASL mechanism"},
		{"a mechanism without a password", Options{Brokers: []string{"b:9092"}, SASLMechanism: SASLPlain, Username: "u"}, "needs a username and a password"},
		{"an unknown mechanism", Options{Brokers: []string{"b:9092"}, SASLMechanism: "gssapi", Username: "u", Password: "p"}, `SASL mechanism "gssapi"`},
	} {
		if _, err := New(tt.o, conv, sp, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	p, err := New(Options{Brokers: []string{"b:9092"}}, conv, sp, slog.New(slog.DiscardHandler))
	if err != nil || p.w.Topic != DefaultTopic || p.w.RequiredAcks != kafkago.RequireAll || p.w.Compression != kafkago.Zstd {
		t.Errorf("defaults: %v, topic %q acks %v compression %v", err, p.w.Topic, p.w.RequiredAcks, p.w.Compression)
	}
}

// TestSlowKafkaSpills: a broker that takes produce requests and never answers them makes a
// write time out after WriteTimeout; its events go to the spool, nothing is dropped, and once
// the broker answers again every event is on the topic (some maybe twice: the timed-out
// write may still land), the first appearances in order.
func TestSlowKafkaSpills(t *testing.T) {
	port := freePort(t)
	c := broker(t, port)
	var stall sync.Mutex
	stalled := true
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		stall.Lock()
		defer stall.Unlock()
		if !stalled {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		return nil, nil, true // taken, never answered
	})
	h := newProducer(t, port, "", 1<<20, func(o *Options) { o.WriteTimeout = 300 * time.Millisecond })
	start := time.Now()
	record(h.p, events(0, 100))
	if h.p.Spooled() != 100 || h.p.Dropped() != 0 {
		t.Fatalf("stalled broker: %d spooled, %d dropped; want 100, 0", h.p.Spooled(), h.p.Dropped())
	}
	t.Logf("recording 100 events against a stalled broker took %v (one write timeout, then the spool)", time.Since(start))

	stall.Lock()
	stalled = false
	stall.Unlock()
	h.run(t)
	eventually(t, "spool replayed", func() bool { return h.p.Spooled() == 0 })
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: c.ListenAddrs(), Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var first []string
	seen := map[string]bool{}
	for len(first) < 100 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d distinct events: %v", len(first), err)
		}
		if !seen[string(m.Key)] {
			seen[string(m.Key)] = true
			first = append(first, string(m.Key))
		}
	}
	if strings.Join(first, ",") != ids(0, 100) {
		t.Error("the events' first appearances are not in order")
	}
}

// BenchmarkRecordBatch writes one queue chunk of events to a broker, as a replica's usage
// queue does: B/op is what a chunk costs the producer (and the in-process broker).
func BenchmarkRecordBatch(b *testing.B) {
	port := freePort(b)
	broker(b, port)
	h := newProducer(b, port, "", 64<<20, nil)
	defer h.p.Close(context.Background())
	es := events(0, usage.MaxBatch)
	b.ReportAllocs()
	for b.Loop() {
		h.p.RecordBatch(b.Context(), es)
	}
	if h.sp.Len() != 0 || h.p.Dropped() != 0 {
		b.Fatalf("spooled %d, dropped %d: want every event written", h.sp.Len(), h.p.Dropped())
	}
}

// TestCompressionLevel: a producer compresses at zstdLevel, whose encoder holds under half of
// what kafka-go's default level holds, for a chunk of usage events at most a quarter larger.
func TestCompressionLevel(t *testing.T) {
	// The codec a producer's batches go through is kafka-go's process-wide one, set by init.
	port := freePort(t)
	broker(t, port)
	h := newProducer(t, port, "", 64<<20, nil)
	codec, ok := h.p.w.Compression.Codec().(*kafkazstd.Codec)
	h.p.Close(context.Background()) // before the heap is measured
	if !ok || codec != &compress.ZstdCodec || codec.Level != zstdLevel {
		t.Fatalf("the producer compresses with %#v, want kafka-go's zstd codec at level %d", h.p.w.Compression.Codec(), zstdLevel)
	}
	conv := event.NewConverter("replica-1", "region-1", nil)
	var raw []byte
	for _, e := range events(0, usage.MaxBatch) {
		b, err := conv.Marshal(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	// measure compresses raw with a fresh codec at level and returns the compressed size and
	// the heap its encoder keeps (the codec pools it).
	measure := func(level int) (size int, live int64) {
		c := &kafkazstd.Codec{Level: level}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var buf bytes.Buffer
		w := c.NewWriter(&buf)
		if _, err := w.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		return buf.Len(), int64(after.HeapAlloc) - int64(before.HeapAlloc)
	}
	size, live := measure(zstdLevel)
	defSize, defLive := measure(3)
	t.Logf("%d events, %d bytes: level %d: %d bytes, encoder %d KB; level 3: %d bytes, encoder %d KB", usage.MaxBatch, len(raw), zstdLevel, size, live>>10, defSize, defLive>>10)
	if live*2 > defLive {
		t.Errorf("level %d's encoder holds %d KB, level 3's %d KB: want under half", zstdLevel, live>>10, defLive>>10)
	}
	if size*4 > defSize*5 {
		t.Errorf("level %d compresses to %d bytes, level 3 to %d: want at most a quarter more", zstdLevel, size, defSize)
	}
}
