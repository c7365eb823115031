package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/llmgw/llmgw/analytics/event"
	"github.com/llmgw/llmgw/analytics/query"
	"github.com/llmgw/llmgw/gateway/usage"
	usagev1 "github.com/llmgw/llmgw/gen/go/llmgw/usage/v1"
)

// FileName is the store's file name in the data directory.
const FileName = "usage.db"

// Defaults of Options.
const (
	DefaultMaxBatch   = 1000
	DefaultBuffer     = 4096
	DefaultPruneEvery = time.Hour
)

// Options are the store's knobs; zero values take the defaults.
type Options struct {
	// Retention is how long events are kept; older ones are deleted by Prune (which Run calls
	// every PruneEvery). Zero keeps events forever.
	Retention time.Duration
	// Now is the clock retention reads (default time.Now).
	Now func() time.Time
	// MaxBatch bounds the events written in one transaction (default DefaultMaxBatch).
	MaxBatch int
	// Buffer is how many events Record holds for the writer before it blocks its caller (the
	// usage queue, which then counts what it cannot take) (default DefaultBuffer).
	Buffer int
	// PruneEvery is how often Run deletes expired events (default DefaultPruneEvery).
	PruneEvery time.Duration
	// Linger is how long Run waits, after an event arrives, for more to write in the same
	// transaction (default DefaultLinger): a transaction per event would cost a busy gateway
	// far more CPU than the requests themselves.
	Linger time.Duration
	// Logger receives write failures (default: discard).
	Logger *slog.Logger
	// Converter turns Record's events into their wire form (default: one without replica,
	// region or provider kinds).
	Converter *event.Converter
}

// Store is the embedded usage store. Record and the queries are safe for concurrent use;
// Run must be called once to write what Record receives.
type Store struct {
	db    *sql.DB
	path  string
	opts  Options
	chunk int // events deleted per pruning transaction
	// next is the next free key per millisecond key, for the writer only (Write's callers
	// are serial: Run, or a test).
	next   map[int64]int64
	record []byte // the writer's buffer for an event's record
	// draining is set when Run's context is done: the last batches are written without the
	// pauses that let requests run (there are none left), so shutdown does not wait on them.
	draining bool
	sleep    func(time.Duration) // time.Sleep; a test counts the pauses
	in       chan *usagev1.UsageEvent
	done     chan struct{} // closed when Run returns
	logger   *slog.Logger
}

var (
	_ usage.Sink    = (*Store)(nil)
	_ query.Querier = (*Store)(nil)
)

const schema = `
CREATE TABLE IF NOT EXISTS events (
	id              INTEGER PRIMARY KEY, -- time-ordered key: (time in ms << 20) | sequence
	event_id        TEXT    NOT NULL,
	ts              INTEGER NOT NULL,    -- time, Unix microseconds
	model           TEXT    NOT NULL,
	target          TEXT    NOT NULL,
	user            TEXT    NOT NULL,
	virtual_account TEXT    NOT NULL,
	failed          INTEGER NOT NULL,
	prompt          INTEGER NOT NULL,
	completion      INTEGER NOT NULL,
	cache_read      INTEGER NOT NULL,
	cache_write     INTEGER NOT NULL,
	reasoning       INTEGER NOT NULL,
	cost_usd        REAL    NOT NULL,
	unpriced        INTEGER NOT NULL,
	latency_us      INTEGER NOT NULL,
	ttft_us         INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events(event_id);
CREATE INDEX IF NOT EXISTS events_user ON events(user, id);
CREATE INDEX IF NOT EXISTS events_virtual_account ON events(virtual_account, id);
-- No index by model or target: they select a large share of a time range, which the scan
-- by key reads as fast; whole hours come from the rollup.
CREATE TABLE IF NOT EXISTS event_teams (
	id   INTEGER NOT NULL,
	team TEXT    NOT NULL,
	PRIMARY KEY (id, team)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_teams_team ON event_teams(team, id);
CREATE TABLE IF NOT EXISTS event_metadata (
	id    INTEGER NOT NULL,
	key   TEXT    NOT NULL,
	value TEXT    NOT NULL,
	PRIMARY KEY (id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_metadata_key ON event_metadata(key, value, id);
-- rollup_hour sums the events per hour and (model, target, user, virtual account): the whole
-- hours of a query without teams or metadata read it instead of the events.
CREATE TABLE IF NOT EXISTS rollup_hour (
	hour            INTEGER NOT NULL, -- Unix hours
	model           TEXT    NOT NULL,
	target          TEXT    NOT NULL,
	user            TEXT    NOT NULL,
	virtual_account TEXT    NOT NULL,
	requests        INTEGER NOT NULL,
	failures        INTEGER NOT NULL,
	prompt          INTEGER NOT NULL,
	completion      INTEGER NOT NULL,
	cache_read      INTEGER NOT NULL,
	cache_write     INTEGER NOT NULL,
	reasoning       INTEGER NOT NULL,
	cost_usd        REAL    NOT NULL,
	unpriced        INTEGER NOT NULL,
	PRIMARY KEY (hour, model, target, user, virtual_account)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollup_hour_user ON rollup_hour(user, hour);
CREATE INDEX IF NOT EXISTS rollup_hour_virtual_account ON rollup_hour(virtual_account, hour);
-- rollup_hour_model is rollup_hour without users and virtual accounts: a few rows an hour
-- per model, for the queries that neither filter nor group by them.
CREATE TABLE IF NOT EXISTS rollup_hour_model (
	hour        INTEGER NOT NULL,
	model       TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	requests    INTEGER NOT NULL,
	failures    INTEGER NOT NULL,
	prompt      INTEGER NOT NULL,
	completion  INTEGER NOT NULL,
	cache_read  INTEGER NOT NULL,
	cache_write INTEGER NOT NULL,
	reasoning   INTEGER NOT NULL,
	cost_usd    REAL    NOT NULL,
	unpriced    INTEGER NOT NULL,
	PRIMARY KEY (hour, model, target)
) WITHOUT ROWID;
-- rollup_hour_team is rollup_hour_model per team: an event counts once in each of its teams,
-- in team '' when it has none.
CREATE TABLE IF NOT EXISTS rollup_hour_team (
	hour        INTEGER NOT NULL,
	team        TEXT    NOT NULL,
	model       TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	requests    INTEGER NOT NULL,
	failures    INTEGER NOT NULL,
	prompt      INTEGER NOT NULL,
	completion  INTEGER NOT NULL,
	cache_read  INTEGER NOT NULL,
	cache_write INTEGER NOT NULL,
	reasoning   INTEGER NOT NULL,
	cost_usd    REAL    NOT NULL,
	unpriced    INTEGER NOT NULL,
	PRIMARY KEY (hour, team, model, target)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_records (
	id    INTEGER PRIMARY KEY,
	event BLOB NOT NULL -- llmgw.usage.v1.UsageEvent without bodies
);
CREATE TABLE IF NOT EXISTS event_bodies (
	id                 INTEGER PRIMARY KEY,
	request            BLOB    NOT NULL,
	response           BLOB    NOT NULL,
	request_truncated  INTEGER NOT NULL,
	response_truncated INTEGER NOT NULL
);
`

// Open opens (creating it when missing, readable by its owner only) the store at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = DefaultPruneEvery
	}
	if opts.Linger <= 0 {
		opts.Linger = DefaultLinger
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Converter == nil {
		opts.Converter = event.NewConverter("", "", nil)
	}
	// Create the file first so that it (and the WAL and shared-memory files SQLite gives the
	// same mode) is the owner's only: the request log names users and may hold bodies.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("usage store: %w", err)
	}
	_ = f.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("usage store: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("usage store schema: %w", err)
	}
	return &Store{db: db, path: path, opts: opts, chunk: pruneChunk, next: map[int64]int64{}, sleep: time.Sleep, in: make(chan *usagev1.UsageEvent, opts.Buffer), done: make(chan struct{}), logger: opts.Logger}, nil
}

// Close closes the database. Call it after Run has returned.
func (s *Store) Close() error { return s.db.Close() }

// Record implements usage.Sink: it hands e, in its wire form, to the writer. It blocks while
// the writer's buffer is full (the usage queue in front absorbs that, off the request path),
// and drops the event once Run has returned.
func (s *Store) Record(ctx context.Context, e *usage.Event) {
	s.enqueue(ctx, s.opts.Converter.Convert(e))
}

// RecordBatch implements usage.BatchSink, as Record does for each event.
func (s *Store) RecordBatch(ctx context.Context, es []usage.Event) {
	for i := range es {
		s.enqueue(ctx, s.opts.Converter.Convert(&es[i]))
	}
}

func (s *Store) enqueue(ctx context.Context, p *usagev1.UsageEvent) {
	select {
	case s.in <- p:
	case <-s.done:
		s.logger.Warn("usage store: event after shutdown dropped", "event_id", p.GetEventId())
	case <-ctx.Done():
	}
}

// DefaultLinger is Options.Linger's default: an event waits at most this long after the usage
// queue hands it over before its batch is written (which, with its pauses, takes up to about
// 0.2 s more for a full batch on an idle gateway).
const DefaultLinger = time.Second

// Run writes what Record receives, a transaction per batch of up to MaxBatch events: the
// events that arrive within Linger of a batch's first one (so a busy gateway writes large
// batches, and an event waits at most Linger), and deletes expired events every PruneEvery. When ctx is done it writes what is
// still buffered and returns; Record's callers must have stopped by then.
func (s *Store) Run(ctx context.Context) {
	defer close(s.done)
	bg := context.WithoutCancel(ctx)
	tick := time.NewTicker(s.opts.PruneEvery)
	defer tick.Stop()
	batch := make([]*usagev1.UsageEvent, 0, s.opts.MaxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := s.Write(bg, batch); err != nil {
			s.logger.Error("usage store: batch not written", "events", len(batch), "error", err)
		}
		clear(batch)
		batch = batch[:0]
	}
	s.prune(bg)
	for {
		select {
		case e := <-s.in:
			batch = append(batch, e)
			linger := time.NewTimer(s.opts.Linger)
		fill:
			for len(batch) < s.opts.MaxBatch {
				select {
				case e := <-s.in:
					batch = append(batch, e)
				case <-linger.C:
					break fill
				case <-ctx.Done():
					break fill // the loop's next turn writes the rest and returns
				}
			}
			linger.Stop()
			flush()
		case <-tick.C:
			s.prune(bg)
		case <-ctx.Done():
			s.draining = true // the requests are over: write the rest without pauses
			for {
				select {
				case e := <-s.in:
					batch = append(batch, e)
					if len(batch) == s.opts.MaxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (s *Store) prune(ctx context.Context) {
	if s.opts.Retention <= 0 {
		return
	}
	if n, err := s.Prune(ctx); err != nil {
		s.logger.Error("usage store: expired events not deleted", "error", err)
	} else if n > 0 {
		s.logger.Info("usage store: expired events deleted", "events", n, "retention", s.opts.Retention)
	}
}

// seqBits is the width of the sequence within a millisecond in an event's key.
const seqBits = 20

// keyOf is the smallest key of an event at t (any later key is at t's millisecond or after).
func keyOf(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return ms << seqBits
}

// Write stores events in one transaction. An event whose id is already stored is skipped (a
// redelivery); bodies, when an event carries them, go to their own table. Calls must not
// overlap (Run makes them one at a time), and no one may read the events during a call (an
// event's Bodies field is cleared while its record is marshalled, then put back).
func (s *Store) Write(ctx context.Context, events []*usagev1.UsageEvent) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	exists := stmt(`SELECT 1 FROM events WHERE event_id = ?`)
	last := stmt(`SELECT max(id) FROM events WHERE id >= ? AND id < ?`)
	ins := stmt(`INSERT INTO events (id, event_id, ts, model, target, user, virtual_account, failed, prompt, completion, cache_read, cache_write, reasoning, cost_usd, unpriced, latency_us, ttft_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	team := stmt(`INSERT OR IGNORE INTO event_teams (id, team) VALUES (?, ?)`)
	meta := stmt(`INSERT OR REPLACE INTO event_metadata (id, key, value) VALUES (?, ?, ?)`)
	rec := stmt(`INSERT INTO event_records (id, event) VALUES (?, ?)`)
	roll := stmt(`INSERT INTO rollup_hour (hour, model, target, user, virtual_account, requests, failures, prompt, completion, cache_read, cache_write, reasoning, cost_usd, unpriced)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + rollupAdd)
	body := stmt(`INSERT INTO event_bodies (id, request, response, request_truncated, response_truncated) VALUES (?, ?, ?, ?, ?)`)
	rollModel := stmt(`INSERT INTO rollup_hour_model (hour, model, target, requests, failures, prompt, completion, cache_read, cache_write, reasoning, cost_usd, unpriced)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + rollupAdd)
	rollTeam := stmt(`INSERT INTO rollup_hour_team (hour, team, model, target, requests, failures, prompt, completion, cache_read, cache_write, reasoning, cost_usd, unpriced)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + rollupAdd)
	if err != nil {
		return err
	}
	// The writer's last keys per millisecond (s.next) make the common case one insert; a key
	// taken by an earlier process is found when the insert does nothing.
	if len(s.next) > 4096 {
		clear(s.next)
	}
	// The rollups are summed over the batch and written once per key: a batch of many events
	// of a few models and users costs a few upserts, not three per event.
	rolls, modelRolls, teamRolls := batchSums[rollKey]{}, batchSums[modelRollKey]{}, batchSums[teamRollKey]{}
	for i, e := range events {
		if i%yieldEvery == yieldEvery-1 {
			s.yield()
		}
		t := e.GetTime().AsTime()
		base := keyOf(t)
		tok := e.GetTokens()
		var id int64
		inserted := false
		for attempt := 0; !inserted; attempt++ {
			// A millisecond this writer has not used starts at its first key (s.next holds
			// keys past base only); a key taken by an earlier process is found by the conflict.
			next := max(s.next[base], base)
			if attempt > 0 {
				var maxID sql.NullInt64
				if err := last.QueryRowContext(ctx, base, base+1<<seqBits).Scan(&maxID); err != nil {
					return err
				}
				next = base
				if maxID.Valid {
					next = maxID.Int64 + 1
				}
			}
			id = next
			if id >= base+1<<seqBits {
				return fmt.Errorf("more than %d events in the millisecond %s", 1<<seqBits, t.UTC())
			}
			res, err := ins.ExecContext(ctx, id, e.GetEventId(), t.UnixMicro(), e.GetModel(), e.GetTarget().GetModel(), e.GetUser(), e.GetVirtualAccount(),
				b2i(e.GetStatus() != "ok"), tok.GetPrompt(), tok.GetCompletion(), tok.GetCacheRead(), tok.GetCacheWrite(), tok.GetReasoning(),
				e.GetCostUsd(), b2i(!e.GetPriced()), e.GetLatencyUs(), e.GetTtftUs())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				inserted = true
				s.next[base] = id + 1
				continue
			}
			var one int
			switch err := exists.QueryRowContext(ctx, e.GetEventId()).Scan(&one); {
			case err == nil:
				break // already stored: a redelivery
			case !errors.Is(err, sql.ErrNoRows):
				return err
			default:
				if attempt > 0 {
					return fmt.Errorf("no free key for event %q", e.GetEventId())
				}
				continue // the key was taken: look up the millisecond's last key
			}
			break
		}
		if !inserted {
			continue
		}
		hour := t.UnixMicro() / hourUs
		add := query.Totals{Requests: 1, Failures: int64(b2i(e.GetStatus() != "ok")), PromptTokens: tok.GetPrompt(), CompletionTokens: tok.GetCompletion(),
			CacheReadTokens: tok.GetCacheRead(), CacheWriteTokens: tok.GetCacheWrite(), ReasoningTokens: tok.GetReasoning(), CostUSD: e.GetCostUsd(), Unpriced: int64(b2i(!e.GetPriced()))}
		rolls.add(rollKey{hour, e.GetModel(), e.GetTarget().GetModel(), e.GetUser(), e.GetVirtualAccount()}, add)
		modelRolls.add(modelRollKey{hour, e.GetModel(), e.GetTarget().GetModel()}, add)
		teams := slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(e.GetTeams()))), func(t string) bool { return t == "" })
		if len(teams) == 0 {
			teams = []string{""}
		}
		for _, tm := range teams {
			if tm != "" {
				if _, err := team.ExecContext(ctx, id, tm); err != nil {
					return err
				}
			}
			teamRolls.add(teamRollKey{hour, tm, e.GetModel(), e.GetTarget().GetModel()}, add)
		}
		for k, v := range e.GetMetadata() {
			if _, err := meta.ExecContext(ctx, id, k, v); err != nil {
				return err
			}
		}
		// The record is the event without its bodies, marshalled into the writer's buffer (the
		// driver copies what it binds).
		bodies := e.GetBodies()
		e.Bodies = nil
		s.record, err = proto.MarshalOptions{}.MarshalAppend(s.record[:0], e)
		e.Bodies = bodies
		if err != nil {
			return err
		}
		if _, err := rec.ExecContext(ctx, id, s.record); err != nil {
			return err
		}
		if bodies != nil {
			if _, err := body.ExecContext(ctx, id, nonNil(bodies.GetRequest()), nonNil(bodies.GetResponse()), b2i(bodies.GetRequestTruncated()), b2i(bodies.GetResponseTruncated())); err != nil {
				return err
			}
		}
	}
	for k, v := range rolls {
		if _, err := roll.ExecContext(ctx, append([]any{k.hour, k.model, k.target, k.user, k.va}, rollupArgs(v)...)...); err != nil {
			return err
		}
	}
	for k, v := range modelRolls {
		if _, err := rollModel.ExecContext(ctx, append([]any{k.hour, k.model, k.target}, rollupArgs(v)...)...); err != nil {
			return err
		}
	}
	for k, v := range teamRolls {
		if _, err := rollTeam.ExecContext(ctx, append([]any{k.hour, k.team, k.model, k.target}, rollupArgs(v)...)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// A batch takes milliseconds of CPU. On a gateway with one processor (GOMAXPROCS=1: a process
// pinned to one CPU, such as a cpuset of one; Go sets 2 for a CPU quota of one core), a
// goroutine that keeps it also keeps the network from being polled: runtime.Gosched lets only
// goroutines already runnable go first, and the runtime's monitor polls for them only every
// 10 ms, so requests would stall for the whole batch. Write instead
// parks for yieldPause every yieldEvery events (about 0.15 ms of work): the processor, idle,
// polls the network, and the requests that arrived run before the batch goes on.
const (
	yieldEvery = 8
	yieldPause = 50 * time.Microsecond
)

func (s *Store) yield() {
	if !s.draining {
		s.sleep(yieldPause)
	}
}

// rollupAdd ends the rollup upserts: a row's totals add a batch's.
const rollupAdd = `
		ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, failures = failures + excluded.failures, prompt = prompt + excluded.prompt,
			completion = completion + excluded.completion, cache_read = cache_read + excluded.cache_read, cache_write = cache_write + excluded.cache_write,
			reasoning = reasoning + excluded.reasoning, cost_usd = cost_usd + excluded.cost_usd, unpriced = unpriced + excluded.unpriced`

// The keys of the three hourly rollups (rollup_hour, rollup_hour_model, rollup_hour_team).
type (
	rollKey struct {
		hour                    int64
		model, target, user, va string
	}
	modelRollKey struct {
		hour          int64
		model, target string
	}
	teamRollKey struct {
		hour                int64
		team, model, target string
	}
)

// rollupArgs are the rollup upserts' last nine parameters.
func rollupArgs(v query.Totals) []any {
	return []any{v.Requests, v.Failures, v.PromptTokens, v.CompletionTokens, v.CacheReadTokens, v.CacheWriteTokens, v.ReasoningTokens, v.CostUSD, v.Unpriced}
}

// batchSums sums one batch's events per rollup key.
type batchSums[K comparable] map[K]query.Totals

func (r batchSums[K]) add(k K, v query.Totals) {
	t := r[k]
	t.Add(v)
	r[k] = t
}

// pruneChunk bounds the events one pruning transaction deletes (a few milliseconds of work),
// so neither the writer nor, on one processor, the requests are held up for long.
const pruneChunk = 1_000

// Prune deletes the events older than the retention (nothing when it is zero), with their
// teams, metadata, records and bodies, and returns how many it deleted.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	// Whole hours, so that the hourly rollup and the events agree.
	cutoff := keyOf(s.opts.Now().Add(-s.opts.Retention).Truncate(time.Hour))
	var total int64
	for {
		bound := cutoff
		var id int64
		err := s.db.QueryRowContext(ctx, `SELECT id FROM events WHERE id < ? ORDER BY id LIMIT 1 OFFSET ?`, cutoff, s.chunk).Scan(&id)
		switch {
		case err == nil:
			bound = id
		case !errors.Is(err, sql.ErrNoRows):
			return total, err
		}
		n, err := s.deleteBefore(ctx, bound)
		total += n
		if err != nil || bound == cutoff {
			return total, err
		}
		s.yield() // requests run between chunks (see yieldEvery)
	}
}

func (s *Store) deleteBefore(ctx context.Context, bound int64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, t := range []string{"event_teams", "event_metadata", "event_records", "event_bodies"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE id < ?`, bound); err != nil {
			return 0, err
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id < ?`, bound)
	if err != nil {
		return 0, err
	}
	// The rollup's hours before the oldest event left (bound is hour-aligned at the end).
	for _, t := range []string{"rollup_hour", "rollup_hour_model", "rollup_hour_team"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE hour < ?`, (bound>>seqBits)/int64(time.Hour/time.Millisecond)); err != nil {
			return 0, err
		}
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
