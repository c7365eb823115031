// Package clickhouse is llmgw's ClickHouse sink: the schema (numbered migrations embedded in
// the binary, applied by Migrate), and the Writer that loads batches of usage events into it
// over the native protocol with ch-go.
//
// The tables are described at the top of each file in migrations/. In short: usage_events holds
// one row per request (a ReplacingMergeTree keyed by event id), usage_bodies the logged bodies
// with their own TTL, and usage_minute* per-minute rollups that materialized views fill.
//
// The Querier answers the Usage API's questions (analytics/query) from the same tables.
//
// It is not the Kafka consumer (analytics/consumer drives a Writer).
package clickhouse

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/ClickHouse/ch-go"
)

// DefaultPort is the native protocol's port, used when a URL names none.
const DefaultPort = "9000"

// Config says where a ClickHouse database is and how to reach it. ParseURL makes one.
type Config struct {
	// Address is host:port of the native protocol.
	Address string
	// Database is the database llmgw's tables live in.
	Database string
	// User and Password authenticate; an empty User is ClickHouse's "default".
	User, Password string
	// TLS, when set, is used for the connection.
	TLS *tls.Config
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseURL parses clickhouse://[user[:password]@]host[:port][/database][?secure=true]. The port
// defaults to 9000 and the database to "default"; secure=true dials with TLS (port 9440 on most
// servers). Any other query parameter is an error, so a typo never passes silently.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url's error quotes the whole URL, password included.
		return Config{}, fmt.Errorf("clickhouse URL does not parse; want clickhouse://[user[:password]@]host[:port]/database")
	}
	if u.Scheme != "clickhouse" {
		return Config{}, fmt.Errorf("clickhouse URL: scheme %q, want clickhouse://", u.Scheme)
	}
	if u.Hostname() == "" {
		return Config{}, fmt.Errorf("clickhouse URL: no host")
	}
	c := Config{Address: u.Host, Database: "default"}
	if u.Port() == "" {
		c.Address = net.JoinHostPort(u.Hostname(), DefaultPort)
	}
	if db := u.Path; db != "" && db != "/" {
		db = db[1:]
		if !identifier.MatchString(db) {
			return Config{}, fmt.Errorf("clickhouse URL: database %q: want letters, digits and underscores", db)
		}
		c.Database = db
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	for k, v := range u.Query() {
		switch {
		case k == "secure" && len(v) == 1 && (v[0] == "true" || v[0] == "false"):
			if v[0] == "true" {
				c.TLS = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
			}
		default:
			return Config{}, fmt.Errorf("clickhouse URL: unknown parameter %q (only secure=true|false is understood)", k)
		}
	}
	return c, nil
}

// dial connects to database db (which must exist) on c's server.
func (c Config) dial(ctx context.Context, db string) (*ch.Client, error) {
	cl, err := ch.Dial(ctx, c.options(db))
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse at %s: %w", c.Address, err)
	}
	return cl, nil
}

// options are the client options of a connection to database db on c's server.
func (c Config) options(db string) ch.Options {
	return ch.Options{
		Address:     c.Address,
		Database:    db,
		User:        c.User,
		Password:    c.Password,
		TLS:         c.TLS,
		ClientName:  "llmgw",
		Compression: ch.CompressionLZ4,
		DialTimeout: 5 * time.Second,
		// A large batch or a DDL statement may take longer than ch-go's 3 s default per packet.
		ReadTimeout: time.Minute,
	}
}
