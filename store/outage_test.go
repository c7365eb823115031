package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// TestUnreachable: connection failures of every driver shape become the unavailable error
// with the public message; answers from the database and the caller going away do not.
func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"pgx connect error", fmt.Errorf("ent: starting a transaction: %w", &pgconn.ConnectError{}), true},
		{"dial refused", refused, true},
		{"connection reset mid-query", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"pgx closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"bad connection", driver.ErrBadConn, true},
		{"connection done", sql.ErrConnDone, true},
		{"server closed mid-answer", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure reported by the server", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"closed store", errors.New("sql: database is closed"), false},
		{"caller went away while dialing", fmt.Errorf("connect: %w", errors.Join(context.Canceled, refused)), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unreachable(tt.err); got != tt.want {
				t.Fatalf("unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			got := unreachableErr(tt.err)
			var e *apierr.Error
			isUnavailable := errors.As(got, &e) && e.Kind == apierr.KindUnavailable && e.Message == UnreachableMessage
			if isUnavailable != tt.want {
				t.Fatalf("unreachableErr(%v) = %v, want unavailable %v", tt.err, got, tt.want)
			}
			if tt.want && !errors.Is(got, tt.err) {
				t.Errorf("the cause %v is not kept for the log", tt.err)
			}
			if !tt.want && got != tt.err {
				t.Errorf("unreachableErr changed %v into %v", tt.err, got)
			}
		})
	}
}
