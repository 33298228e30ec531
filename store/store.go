// Package store is callrecd's index: tenants, users, groups, queues, feature
// extensions, calls, recordings, exports, API tokens and the audit log, in one
// SQLite file. It is the only package that speaks SQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Errors callers can test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key (extension, name, feature code, …) is already taken.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a value the schema refuses (unknown enum, missing parent row, …).
	ErrInvalid = errors.New("invalid value")
	// ErrSchemaTooNew: the database was migrated by a newer callrecd.
	ErrSchemaTooNew = errors.New("database schema is newer than this callrecd")
	// ErrSchemaOutdated: the database needs `callrecd migrate`.
	ErrSchemaOutdated = errors.New("database schema is out of date")
)

// Store is the SQLite-backed index. It is safe for concurrent use.
type Store struct {
	db *sql.DB // read-write pool
	// rdb is a second pool of query-only connections for the hot read paths
	// (CDR listing, token lookup): with WAL, readers never wait for the
	// writer, and they never wait for a pool slot held by a writer that is
	// itself waiting out the busy timeout.
	rdb  *sql.DB
	q    querier // db, or the transaction of a Store handed out by InTx
	r    querier // rdb, or that same transaction (a transaction reads its own writes)
	inTx bool
	// onCommit collects what to run once InTx's transaction commits (nil
	// outside InTx).
	onCommit *[]func()
	tokens   *tokenCache
	settings *settingsCache // the engine's settings reads (see ForEngine)
	path     string
	now      func() time.Time
	// bg counts the writes running off a caller's path (a token's use);
	// Close waits for them.
	bg *sync.WaitGroup
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open opens (creating if needed) the SQLite database at path with WAL,
// foreign keys and a busy timeout. It refuses a database whose schema is newer
// than this binary; it does not migrate (see Migrate).
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: database path is empty")
	}
	db, err := openPool(ctx, path, false)
	if err != nil {
		return nil, err
	}
	rdb, err := openPool(ctx, path, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, rdb: rdb, q: db, r: rdb, tokens: newTokenCache(), settings: newSettingsCache(), path: path, now: time.Now, bg: &sync.WaitGroup{}}
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	if current > latest {
		s.Close()
		return nil, fmt.Errorf("%w: %s is at schema version %d, this callrecd knows up to %d; upgrade callrecd",
			ErrSchemaTooNew, path, current, latest)
	}
	return s, nil
}

// readMmapSize is how much of the database file each read-pool connection
// maps into memory (PRAGMA mmap_size) rather than copying it page by page
// into its own page cache with read(2): a /cdr listing over a large index
// (1M calls, a different day each request) reads pages all over the file,
// few of them in a connection's 2 MB cache, and mapping them cut the server's
// CPU per request by about a tenth. The mapping is address space: the pages
// are the kernel's page cache, shared by the connections. Only reads go
// through it (SQLite writes with write(2)), and the read-write pool does not
// map at all.
const readMmapSize = 1 << 30

// readDriver is the mattn driver with readMmapSize set on each new
// connection (the DSN has no parameter for it).
const readDriver = "sqlite3_callrecd_read"

func init() {
	sql.Register(readDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec(fmt.Sprintf("PRAGMA mmap_size = %d", readMmapSize), nil)
		return err
	}})
}

// openPool opens one connection pool on the database: read-write, or
// query-only (PRAGMA query_only: any write fails) for the read pool.
func openPool(ctx context.Context, path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_synchronous", "NORMAL")
	// Writers take the lock at BEGIN, so a read-then-write transaction never
	// fails half-way with SQLITE_BUSY.
	q.Set("_txlock", "immediate")
	// Each connection keeps its last prepared statements: the same SQL text
	// is compiled once per connection, not once per call.
	q.Set("_stmt_cache_size", "64")
	// database/sql never uses one connection from two goroutines at once, so
	// SQLite's per-connection mutex (taken on every sqlite3_column_* call)
	// is pure overhead.
	q.Set("_mutex", "no")
	driver := "sqlite3"
	if readOnly {
		q.Set("_query_only", "1")
		driver = readDriver
	}
	db, err := sql.Open(driver, "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// OpenCurrent opens the database and requires its schema to be up to date.
func OpenCurrent(ctx context.Context, path string) (*Store, error) {
	s, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	current, latest, err := s.SchemaVersion(ctx)
	if err == nil && current < latest {
		err = fmt.Errorf("%w: %s is at schema version %d, this callrecd needs %d; run `callrecd migrate`",
			ErrSchemaOutdated, path, current, latest)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.bg.Wait()
	rerr := s.rdb.Close()
	if err := s.db.Close(); err != nil {
		return err
	}
	return rerr
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks the database answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) migrations() (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, s.db, sub)
}

// LatestSchemaVersion is the newest schema version this binary knows, read
// from the embedded migration names (NNNNN_name.sql).
func LatestSchemaVersion() int64 {
	entries, _ := migrationFiles.ReadDir("migrations")
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}

// SchemaVersion returns the database's schema version and the newest this
// binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.migrations()
	if err != nil {
		return 0, 0, fmt.Errorf("store: migrations: %w", err)
	}
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	if latest != LatestSchemaVersion() {
		return 0, 0, fmt.Errorf("store: embedded migrations disagree on the latest version")
	}
	// Read the version table directly: goose would create it, and a read-only
	// check must not write.
	var exists int
	if err := s.q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&exists); err != nil {
		return 0, 0, fmt.Errorf("store: schema version: %w", err)
	}
	if exists == 0 {
		return 0, latest, nil
	}
	if err := s.q.QueryRowContext(ctx,
		`SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&current); err != nil {
		return 0, 0, fmt.Errorf("store: schema version: %w", err)
	}
	return current, latest, nil
}

// Migrate applies every pending migration (up to version `to`, or all when
// to <= 0) and returns the versions applied. Running it again is a no-op.
func (s *Store) Migrate(ctx context.Context, to int64) ([]int64, error) {
	p, err := s.migrations()
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var results []*goose.MigrationResult
	if to > 0 {
		results, err = p.UpTo(ctx, to)
	} else {
		results, err = p.Up(ctx)
	}
	var applied []int64
	for _, r := range results {
		if r.Error == nil {
			applied = append(applied, r.Source.Version)
		}
	}
	if err != nil {
		return applied, fmt.Errorf("store: migrate: %w", err)
	}
	return applied, nil
}

// classify maps SQLite constraint failures onto the package's errors so
// callers can answer 404/409/400 without parsing messages.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return fmt.Errorf("%s: %w: %s", op, ErrConflict, constraintDetail(se))
		default:
			return fmt.Errorf("%s: %w: %s", op, ErrInvalid, constraintDetail(se))
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func constraintDetail(se sqlite3.Error) string {
	msg := se.Error()
	return strings.TrimPrefix(msg, "constraint failed: ")
}

// tx runs fn in one transaction, committing only if fn succeeds. Inside
// InTx it joins the caller's transaction.
func (s *Store) tx(ctx context.Context, fn func(querier) error) error {
	if s.inTx {
		return fn(s.q)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// InTx runs fn with a Store whose every method runs in one transaction:
// all of fn's writes land, or none.
func (s *Store) InTx(ctx context.Context, fn func(*Store) error) error {
	if s.inTx {
		return fn(s)
	}
	var hooks []func()
	err := s.tx(ctx, func(q querier) error {
		ts := *s
		ts.q, ts.r, ts.inTx, ts.onCommit = q, q, true, &hooks
		return fn(&ts)
	})
	if err == nil {
		for _, h := range hooks {
			h()
		}
	}
	return err
}

// afterWrite runs fn now and, inside InTx, again once the transaction
// commits: a cache dropped only before the commit could be refilled from
// the old rows by a concurrent reader.
func (s *Store) afterWrite(fn func()) {
	fn()
	if s.onCommit != nil {
		*s.onCommit = append(*s.onCommit, fn)
	}
}

// Times are stored as microseconds since the epoch, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil || t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	i := int(v.Int64)
	return &i
}

// queryList runs a query and scans every row with scan; op names the
// operation in errors.
func queryList[T any](ctx context.Context, q querier, op string, scan func(interface{ Scan(...any) error }) (T, error),
	query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, classify(op, err)
		}
		out = append(out, v)
	}
	return out, classify(op, rows.Err())
}

// checkAffected turns "0 rows changed" into ErrNotFound.
func checkAffected(op string, res sql.Result, err error) error {
	if err != nil {
		return classify(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}
