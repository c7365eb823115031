package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/llmgw/llmgw/gateway/apierr"
)

// UnreachableMessage is what a client is told when the database cannot be reached: the
// control plane waits for it, the data plane does not.
const UnreachableMessage = "configuration database unreachable; inference continues on the last configuration"

// unreachable reports whether err means that the database could not be reached or that the
// connection to it broke, as opposed to an answer from it (a constraint, a missing row) or the
// caller going away. It is the one place that knows the drivers' connection errors.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var (
		connect *pgconn.ConnectError
		pg      *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connect), // dialing, TLS, authentication, or its deadline
		errors.Is(err, pgconn.ErrConnClosed),
		pgconn.Timeout(err), // a deadline or network timeout inside the driver
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF), // the server closed the connection mid-answer
		errors.As(err, &netErr):             // *net.OpError: refused, reset, broken pipe, DNS
		return true
	case errors.As(err, &pg):
		// Class 08 is "connection exception"; 57P01-57P03 are the server shutting down or
		// starting; 53300 is too_many_connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	return false
}

// unreachableErr returns err as the unavailable error when it is a connection failure, else
// err unchanged.
func unreachableErr(err error) error {
	if !unreachable(err) {
		return err
	}
	var e *apierr.Error
	if errors.As(err, &e) && e.Kind == apierr.KindUnavailable {
		return err
	}
	return &apierr.Error{Kind: apierr.KindUnavailable, Message: UnreachableMessage, Cause: err}
}

// outageDriver is the ent driver of the store: it passes every call to the SQL driver and
// turns connection failures into the unavailable error, so that every read and write reports a
// database outage the same way whatever the store method. The rows a query returns are left
// as they are (ent's migrations need them to be *sql.Rows): a connection lost while a result
// is read, after the driver returned it, stays an internal error, and the next call reports
// the outage.
type outageDriver struct {
	*entsql.Driver
}

func (d outageDriver) Exec(ctx context.Context, query string, args, v any) error {
	return unreachableErr(d.Driver.Exec(ctx, query, args, v))
}

func (d outageDriver) Query(ctx context.Context, query string, args, v any) error {
	return unreachableErr(d.Driver.Query(ctx, query, args, v))
}

func (d outageDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx is what ent's Client.BeginTx needs of a driver.
func (d outageDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		return nil, unreachableErr(err)
	}
	return outageTx{tx}, nil
}

// outageTx is a transaction of outageDriver.
type outageTx struct {
	dialect.Tx
}

func (t outageTx) Exec(ctx context.Context, query string, args, v any) error {
	return unreachableErr(t.Tx.Exec(ctx, query, args, v))
}

func (t outageTx) Query(ctx context.Context, query string, args, v any) error {
	return unreachableErr(t.Tx.Query(ctx, query, args, v))
}

// ExecContext is what ent's Tx.ExecContext needs of a transaction (the revision bump's
// upsert, which ent's builders do not express).
func (t outageTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	if err := t.Exec(ctx, query, args, &res); err != nil {
		return nil, err
	}
	return res, nil
}

func (t outageTx) Commit() error   { return unreachableErr(t.Tx.Commit()) }
func (t outageTx) Rollback() error { return unreachableErr(t.Tx.Rollback()) }
